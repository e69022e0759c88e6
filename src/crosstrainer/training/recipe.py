"""The two-stage CrossTrainer recipe: setup -> Stage I -> Stage II -> probes -> save.

Stage I  : projector + LoRA learn to generate the skill-attributes of each commentary window.
Stage II : the same adapter learns level + feedback with the attributes in the prompt (plus a share of Stage-I
           examples, ``rehearsal``, so one adapter keeps both skills); ``two_stage: false`` skips Stage I
           (the paper's "w/o two-stage" ablation).
Probes   : logistic regressions on the frozen projected representation (proficiency per clip, attributes per second).

Runs on one CPU or many GPUs through accelerate (``accelerate launch -m crosstrainer train run ...``): every
process draws its own batches (the batch RNG is seeded with the process index), gradients are averaged by the
engine (DDP, FSDP or DeepSpeed, as the accelerate config says) and only the main process writes checkpoints,
``metrics.jsonl`` and the model.

Resumable: every ``save_every`` steps the trainable weights, optimizer, scheduler, torch RNG and position are
written atomically (a temporary file, then ``os.replace``) to ``<work>/checkpoint/state.pt``; rerunning the same
command continues from there ("stage I: resuming at step N/T"). Batches depend only on (seed, stage, step,
process), so a resumed single-process run reproduces the uninterrupted one.

``metrics.jsonl`` holds one line per logged step::

    {"stage": 1, "step": 5, "loss": 10.71, "lr": 0.003, "elapsed_s": 3.2, "num_processes": 1}
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crosstrainer import __version__
from crosstrainer.attributes.vocabulary import Attribute, Vocabulary, normalise_name
from crosstrainer.data.sample import Sample, ordered_levels
from crosstrainer.errors import UsageError
from crosstrainer.features.provider import FeatureProvider
from crosstrainer.fileio import atomic_write, atomic_write_text
from crosstrainer.model import prompts
from crosstrainer.model.calibration import Familiarity
from crosstrainer.model.checkpoint import Manifest, save_model
from crosstrainer.model.crosstrainer import CrossTrainerModel, Turn
from crosstrainer.model.heads import AttributeHead
from crosstrainer.model.probes import LinearProbe
from crosstrainer.model.projector import Projector
from crosstrainer.training.config import TrainConfig


@dataclass(frozen=True)
class Item:
    """One training example: commentary ``c`` of sample ``s`` for ``stage`` (1 = attributes, 2 = feedback)."""

    s: int
    c: int
    stage: int


def _window(sample: Sample, c: int, cfg: TrainConfig) -> tuple[float, float] | None:
    com = sample.commentary[c]
    if com.window is not None:
        return (float(com.window[0]), float(com.window[1]))
    if com.time_s is not None:
        return (max(0.0, com.time_s - cfg.commentary_window_s), float(com.time_s))
    return None


def build_items(samples: list[Sample], cfg: TrainConfig) -> tuple[list[Item], list[Item]]:
    stage1 = [
        Item(s, c, 1)
        for s, smp in enumerate(samples)
        for c, com in enumerate(smp.commentary)
        if com.attributes is not None
    ]
    stage2 = [
        Item(s, c, 2)
        for s, smp in enumerate(samples)
        for c, com in enumerate(smp.commentary)
        if com.text.strip() or smp.proficiency
    ]
    return stage1 * cfg.stage1_repeat, stage2 * cfg.stage2_repeat


def make_turn(
    item: Item, samples: list[Sample], provider: FeatureProvider, cfg: TrainConfig, rng: np.random.Generator | None
) -> Turn:
    """The prompt/target turn of one item; with ``rng`` the features are augmented and the sport sometimes hidden."""
    sample = samples[item.s]
    com = sample.commentary[item.c]
    feats = provider.clip(sample, _window(sample, item.c, cfg), rng)
    attrs = list(com.attributes or [])
    sport = sample.sport if (rng is None or rng.random() < 0.7) else None  # learn to work without the sport too
    if item.stage == 1:
        return Turn(feats, prompts.stage1_user(sport), prompts.stage1_target(attrs))
    return Turn(feats, prompts.stage2_user(sport, attrs), prompts.stage2_target(sample.proficiency, com.text))


def vocabulary_from_samples(samples: list[Sample], base: Vocabulary | None = None) -> Vocabulary:
    """The attribute vocabulary: ``base`` (if given) plus every attribute the samples use, with counts and sports."""
    attrs: dict[str, Attribute] = {
        a.name: a.model_copy(update={"count": 0, "sports": []}) for a in (base.attributes if base else [])
    }
    for smp in samples:
        for com in smp.commentary:
            for name in com.attributes or []:
                key = normalise_name(name)
                if base is not None and (hit := base.get(key)) is not None:
                    key = hit.name
                a = attrs.setdefault(key, Attribute(name=key))
                a.count += 1
                if smp.sport and smp.sport not in a.sports:
                    a.sports.append(smp.sport)
                if com.text and len(a.examples) < 3 and com.text not in a.examples:
                    a.examples.append(com.text)
    return Vocabulary(
        attributes=[a for a in attrs.values() if a.count > 0 or base is None], meta={"source": "training samples"}
    )


def set_seed(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def canonicalize_attributes(samples: list[Sample], vocabulary: Vocabulary) -> list[Sample]:
    """Copies of ``samples`` whose commentary attributes use the vocabulary's names (synonyms mapped, case folded).

    ``["Back straight", "wobble"]`` -> ``["posture", "balance"]`` with the seed vocabulary; names the vocabulary
    does not know are kept (lower-cased), duplicates dropped.
    """
    out = []
    for smp in samples:
        commentary = []
        for com in smp.commentary:
            if com.attributes is None:
                commentary.append(com)
                continue
            names: list[str] = []
            for raw in com.attributes:
                hit = vocabulary.get(raw)
                name = hit.name if hit is not None else normalise_name(raw)
                if name and name not in names:
                    names.append(name)
            commentary.append(com.model_copy(update={"attributes": names}))
        copy = smp.model_copy(update={"commentary": commentary})
        copy.pose = smp.pose
        out.append(copy)
    return out


def _cpu_processes() -> bool:
    """True when several processes were launched (``WORLD_SIZE`` > 1) on a machine without CUDA.

    accelerate then needs ``cpu=True`` to join them with gloo: ``accelerate launch --multi_gpu --num_processes 2``
    starts them through torchrun, while its ``--cpu`` launcher starts one process unless MPI is set up.
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


class _LossModule(torch.nn.Module):
    """``forward(turns) -> loss``: what accelerate wraps (DDP/FSDP hooks and autocast act on ``forward``)."""

    def __init__(self, model: CrossTrainerModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, turns: list[Turn]) -> torch.Tensor:
        return self.model.loss(turns)


class Trainer:
    """Owns the model, optimizer and loop. ``fit()`` runs every stage and returns the trained parts."""

    def __init__(
        self,
        cfg: TrainConfig,
        train_samples: list[Sample],
        out_dir: str | Path,
        provider: FeatureProvider | None = None,
        levels: list[str] | None = None,
        vocabulary: Vocabulary | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        from accelerate import Accelerator

        if not train_samples:
            raise UsageError("no training samples")
        self.cfg, self.samples, self.out = cfg, train_samples, Path(out_dir)
        self.provider = provider or FeatureProvider(cfg.encoder, augment=cfg.augment)
        self.levels = levels or ordered_levels({s.proficiency for s in train_samples if s.proficiency})
        self.vocabulary = vocabulary or vocabulary_from_samples(train_samples)
        self.log = log
        # the scheduler is stepped by hand once per optimizer step: accelerate's default would step it
        # num_processes times per step and end the warmup/cosine schedule early on several processes
        self.acc = Accelerator(
            mixed_precision=cfg.mixed_precision,
            gradient_accumulation_steps=cfg.grad_accum,
            step_scheduler_with_optimizer=False,
            cpu=_cpu_processes(),
        )
        self._wrapped: Any = None
        self.head: AttributeHead | None = None
        self.head_samples = list(train_samples)
        self.familiarity: Familiarity | None = None
        self.out.mkdir(parents=True, exist_ok=True)
        set_seed(cfg.seed)
        self._setup_model()

    # ---- setup -----------------------------------------------------------------------------------------------
    def _setup_model(self) -> None:
        from peft import LoraConfig, get_peft_model

        from crosstrainer.model.llm import load_causal_lm

        cfg = self.cfg
        llm, tok = load_causal_lm(cfg.llm, seed=cfg.seed)
        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=list(cfg.lora_targets),
            task_type="CAUSAL_LM",
        )
        self.peft = get_peft_model(llm, lora)
        probe_feats = self.provider.clip(self.samples[0])
        hidden = int(llm.config.hidden_size)
        torch.manual_seed(cfg.seed)
        projector = Projector(probe_feats.shape[1], hidden)
        stats = np.concatenate([self.provider.clip(s) for s in self.samples[: min(len(self.samples), 512)]])
        projector.fit_normalization(torch.as_tensor(stats))
        self.model = CrossTrainerModel(self.peft, tok, projector, max_video_tokens=cfg.max_video_tokens)
        self.in_dim = probe_feats.shape[1]

    def _optimizer(self, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        cfg = self.cfg
        lora_params = [p for n, p in self.peft.named_parameters() if p.requires_grad]
        groups = [
            {"params": list(self.model.projector.parameters()), "lr": cfg.lr_projector},
            {"params": lora_params, "lr": cfg.lr_lora},
        ]
        opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)

        def schedule(step: int) -> float:
            if step < cfg.warmup_steps:
                return (step + 1) / max(1, cfg.warmup_steps)
            progress = (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps)
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)

    # ---- checkpoints -----------------------------------------------------------------------------------------
    def _trainable_state(self) -> dict[str, torch.Tensor]:
        from peft import get_peft_model_state_dict

        state = {f"projector.{k}": v for k, v in self.model.projector.state_dict().items()}
        state.update({f"lora.{k}": v for k, v in get_peft_model_state_dict(self.peft).items()})
        return state

    def _load_trainable(self, state: dict[str, torch.Tensor]) -> None:
        from peft import set_peft_model_state_dict

        self.model.projector.load_state_dict({k[10:]: v for k, v in state.items() if k.startswith("projector.")})
        set_peft_model_state_dict(self.peft, {k[5:]: v for k, v in state.items() if k.startswith("lora.")})

    def _save_checkpoint(self, stage: int, step: int, opt: Any, sched: Any, done: bool = False) -> None:
        """Write ``checkpoint/state.pt`` atomically (main process only): a kill leaves the previous one intact."""
        if not self.acc.is_main_process:
            return
        ckpt = self.out / "checkpoint"
        ckpt.mkdir(exist_ok=True)
        with atomic_write(ckpt / "state.pt", "wb") as fh:
            torch.save(
                {
                    "stage": stage,
                    "step": step,
                    "done": done,
                    "trainable": self._trainable_state(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "num_processes": self.acc.num_processes,
                    "config": self.cfg.to_dict(),
                },
                fh,
            )

    def _truncate_metrics(self, stage: int, step: int) -> None:
        """Drop metric lines logged after the checkpoint we resume from (a killed run may have logged past it)."""
        path = self.out / "metrics.jsonl"
        if not self.acc.is_main_process or not path.is_file():
            return
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut by the kill
                continue
            if (rec.get("stage", 0), rec.get("step", 0)) <= (stage, step):
                keep.append(line)
        atomic_write_text(path, "".join(x + "\n" for x in keep))

    def _read_checkpoint(self) -> dict[str, Any] | None:
        path = self.out / "checkpoint" / "state.pt"
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # a truncated file from a kill: start that stage again
            self.log(f"warning: ignoring unreadable checkpoint {path}")
            return None

    def _log_metrics(self, record: dict[str, Any]) -> None:
        record["num_processes"] = self.acc.num_processes
        if self.acc.is_main_process:
            with (self.out / "metrics.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    # ---- loop ------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _in_sync(self) -> bool:
        """Do all processes hold the same trainable weights (a checksum gathered from each)? True on one process."""
        if self.acc.num_processes == 1:
            return True
        total = sum(float(v.double().abs().sum()) for v in self._trainable_state().values())
        sums = self.acc.gather(torch.tensor([total], dtype=torch.float64, device=self.acc.device)).cpu()
        return bool((sums.max() - sums.min()).abs() <= 1e-6 * max(1.0, float(sums.abs().max())))

    def run_stage(self, stage: int, items: list[Item], rehearsal_items: list[Item], progress: Any = None) -> dict:
        cfg = self.cfg
        if not items:
            raise UsageError(f"stage {stage}: no training examples (stage 1 needs commentary with attributes)")
        steps_per_epoch = math.ceil(len(items) / (cfg.batch_size * cfg.grad_accum * self.acc.num_processes))
        total = max(1, math.ceil(cfg.epochs * steps_per_epoch))
        if cfg.max_steps:
            total = min(total, cfg.max_steps)
        if self._wrapped is None:  # wrap once (before the optimizer exists, as FSDP needs); twice would sync twice
            self._wrapped = self.acc.prepare(_LossModule(self.model))
        model = self._wrapped
        opt, sched = self.acc.prepare(*self._optimizer(total))
        start = 0
        self.acc.wait_for_everyone()  # the previous stage's final checkpoint is written before anyone reads it
        ckpt = self._read_checkpoint()
        if ckpt is not None and ckpt["stage"] == stage:
            self._load_trainable(ckpt["trainable"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            if "torch_rng" in ckpt and self.acc.num_processes == 1:  # dropout continues as if never stopped
                torch.set_rng_state(ckpt["torch_rng"])
            start = ckpt["step"]
            if ckpt.get("done"):
                start = total
            self._truncate_metrics(stage, start)
            self.log(f"stage {stage}: resuming at step {start}/{total}")
        elif ckpt is not None and ckpt["stage"] > stage:
            self._load_trainable(ckpt["trainable"])
            self.log(f"stage {stage}: already done in {self.out / 'checkpoint'}")
            return {"stage": stage, "steps": total, "resumed": True}
        model.train()
        losses: list[float] = []
        first_loss = None
        t0 = time.time()
        task = (
            progress.add_task(f"stage {'I' if stage == 1 else 'II'}", total=total, completed=start)
            if progress
            else None
        )
        for step in range(start, total):
            for micro in range(cfg.grad_accum):
                rng = np.random.default_rng([cfg.seed, stage, step, micro, self.acc.process_index])
                pool = items
                batch = []
                for _ in range(cfg.batch_size):
                    use_rehearsal = rehearsal_items and rng.random() < cfg.rehearsal
                    src = rehearsal_items if use_rehearsal else pool
                    batch.append(make_turn(src[int(rng.integers(len(src)))], self.samples, self.provider, cfg, rng))
                with self.acc.accumulate(model):
                    loss = model(batch)
                    self.acc.backward(loss)
                    opt.step()
                    if self.acc.sync_gradients and not opt.step_was_skipped:
                        sched.step()
                    opt.zero_grad()
            value = float(self.acc.gather(loss.detach().reshape(1)).mean())
            first_loss = value if first_loss is None else first_loss
            losses.append(value)
            if (step + 1) % cfg.log_every == 0 or step + 1 == total:
                self._log_metrics(
                    {
                        "stage": stage,
                        "step": step + 1,
                        "loss": value,
                        "lr": sched.get_last_lr()[-1],
                        "elapsed_s": round(time.time() - t0, 2),
                    }
                )
            if task is not None:
                progress.update(task, advance=1, description=f"stage {'I' if stage == 1 else 'II'} loss {value:.3f}")
            if (step + 1) % cfg.save_every == 0 and step + 1 < total:
                self._save_checkpoint(stage, step + 1, opt, sched)
        self._save_checkpoint(stage, total, opt, sched, done=True)
        self.acc.wait_for_everyone()
        self.model.eval()
        return {
            "stage": stage,
            "steps": total,
            "start_step": start,
            "num_processes": self.acc.num_processes,
            "processes_in_sync": self._in_sync(),
            "first_loss": first_loss,
            "last_loss": float(np.mean(losses[-max(1, len(losses) // 10) :])) if losses else None,
            "seconds": round(time.time() - t0, 1),
        }

    def fit(self, progress: Any = None) -> dict[str, Any]:
        stage1, stage2 = build_items(self.samples, self.cfg)
        report: dict[str, Any] = {}
        if self.cfg.two_stage:
            report["stage1"] = self.run_stage(1, stage1, [], progress)
        report["stage2"] = self.run_stage(2, stage2, stage1 if self.cfg.two_stage else [], progress)
        self.proficiency_probe, self.attribute_probe = self.fit_probes()
        self.head, self.familiarity = self.fit_head()
        return report

    # ---- probes ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def fit_probes(self) -> tuple[LinearProbe, LinearProbe]:
        names = self.vocabulary.names
        xs, ys, xsec, ysec = [], [], [], []
        for smp in self.samples:
            feats = self.provider.clip(smp)
            proj = self.model.project(feats).float().cpu().numpy()
            if smp.proficiency in self.levels:
                xs.append(proj.mean(0))
                ys.append(self.levels.index(smp.proficiency))
            annotated = [c for c in smp.commentary if c.attributes is not None]
            if annotated:
                present = {
                    self.vocabulary.get(a).name for c in annotated for a in c.attributes if self.vocabulary.get(a)
                }
                row = np.array([n in present for n in names], np.float32)
                xsec.append(proj)
                ysec.append(np.repeat(row[None], len(proj), 0))
        if not xs:
            raise UsageError("no training sample has a proficiency level in the model's levels")
        prof = LinearProbe.fit(np.stack(xs), np.array(ys), self.levels, seed=self.cfg.seed)
        if xsec:
            attr = LinearProbe.fit(
                np.concatenate(xsec), np.concatenate(ysec), names, multilabel=True, seed=self.cfg.seed
            )
        else:
            dim = int(self.model.projector.out_dim)
            attr = LinearProbe(
                np.zeros((len(names), dim), np.float32), np.full(len(names), -8.0, np.float32), names, True
            )
        return prof, attr

    def fit_head(self) -> tuple[AttributeHead | None, Familiarity | None]:
        """The transferable proficiency head and its familiarity statistics (see :func:`fit_head`)."""
        return fit_head(self.head_samples, self.levels, self.provider, self.cfg.seed, self.log)

    # ---- save ------------------------------------------------------------------------------------------------
    def save(self, folder: str | Path, metrics: dict[str, Any], model_card: str, train_info: dict[str, Any]) -> Path:
        cfg = self.cfg
        manifest = Manifest(
            name=cfg.name,
            version=cfg.version or __version__,
            llm=cfg.llm,
            encoder=self.provider.encoder_info(),
            levels=list(self.levels),
            projector={
                "in_dim": self.in_dim,
                "hidden_dim": self.model.projector.hidden_dim,
                "out_dim": self.model.projector.out_dim,
            },
            lora={"r": cfg.lora_r, "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout, "targets": cfg.lora_targets},
            max_video_tokens=cfg.max_video_tokens,
            stage1_window_s=cfg.stage1_window_s,
            attribute_threshold=cfg.attribute_threshold,
            head=(
                {"features": list(self.head.feature_names), "c": self.head.c, "cv": self.head.cv}
                if self.head is not None
                else {}
            ),
            seed=cfg.seed,
            train={**train_info, "config": cfg.to_dict()},
            metrics=metrics,
        )
        return save_model(
            folder,
            manifest,
            self.model.projector.state_dict(),
            self.peft,
            self.proficiency_probe,
            self.attribute_probe,
            self.vocabulary,
            model_card,
            extra_arrays=self._head_arrays(),
        )

    def _head_arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.head is not None:
            out.update(self.head.to_arrays())
        if self.familiarity is not None:
            out.update(self.familiarity.to_arrays())
        return out


def recipe_main(
    cfg: TrainConfig,
    samples: list[Sample],
    out: str | Path,
    vocabulary: Vocabulary | None = None,
    *,
    work_dir: str | Path | None = None,
    feature_cache: str | Path | None = None,
    levels: list[str] | None = None,
    stages: str = "all",
    head_samples: list[Sample] | None = None,
    train_info: dict[str, Any] | None = None,
    model_card: str | Callable[[dict[str, Any]], str] | None = None,
    progress: Any = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The one training entry: train ``samples`` with ``cfg`` and save the model folder ``out``.

    ``stages``: ``"all"`` (Stage I then II, or II only when ``cfg.two_stage`` is false) or ``"stage1"``.
    ``head_samples``: the clips the proficiency head learns from (default: ``samples``; the head is cheap, so it
    can see far more clips than the language model).
    Checkpoints and ``metrics.jsonl`` go to ``work_dir`` (default ``.<out name>-work`` beside ``out``); the same
    call resumes there. Only the main process writes the model. Returns ``{"stages", "info", "out"}``, where
    ``info`` (also saved as the manifest's ``train``) holds the stage reports, sample count and ``train_info``.
    ``crosstrainer train``, ``crosstrainer evaluate`` (one model per split) and ``train default`` all call it.
    """
    out = Path(out)
    work = Path(work_dir) if work_dir else out.parent / f".{out.name}-work"
    for warning in cfg.warnings():
        log(f"warning: {warning}")
    provider = FeatureProvider(cfg.encoder, feature_cache=feature_cache, augment=cfg.augment)
    trainer = Trainer(cfg, samples, work, provider=provider, levels=levels, vocabulary=vocabulary, log=log)
    if head_samples is not None:
        trainer.head_samples = list(head_samples)
    if stages == "stage1":
        stage1_items, _ = build_items(samples, cfg)
        report = {"stage1": trainer.run_stage(1, stage1_items, [], progress)}
        trainer.proficiency_probe, trainer.attribute_probe = trainer.fit_probes()
        trainer.head, trainer.familiarity = trainer.fit_head()
    elif stages == "all":
        report = trainer.fit(progress)
    else:
        raise UsageError(f"stages must be 'all' or 'stage1', not {stages!r}")
    info = {
        "stages": report,
        "n_train": len(samples),
        "num_processes": trainer.acc.num_processes,
        "work_dir": str(work),
        **(train_info or {}),
    }
    if trainer.acc.is_main_process:
        card = model_card(info) if callable(model_card) else model_card
        card = card or f"# {cfg.name}\n\nTrained on {len(samples)} samples, seed {cfg.seed}. Stages: {report}\n"
        trainer.save(out, metrics={"train": report}, model_card=card, train_info=info)
    return {"stages": report, "info": info, "out": out, "main_process": trainer.acc.is_main_process}


def fit_head(
    samples: list[Sample],
    levels: list[str],
    provider: FeatureProvider,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> tuple[AttributeHead | None, Familiarity | None]:
    """The transferable proficiency head on pooled pose features (3-D samples seen from several virtual cameras),
    grouped by movement, and the familiarity statistics of its standardised inputs (threshold: the 99th
    percentile of the training clips; ``train default`` sets it on held-out clips). Pose encoders with two levels
    only: (None, None) otherwise."""
    if provider.encoder_name != "pose" or len(levels) != 2:
        return None, None
    names = list(provider.pose_encoder.kinematics.feature_names)
    xs, ys, groups = [], [], []
    for smp in samples:
        if smp.proficiency not in levels or smp.pose is None:
            continue
        for feats in provider.views(smp):
            xs.append(np.nan_to_num(feats.mean(0)))
            ys.append(levels.index(smp.proficiency))
            groups.append(f"{smp.source}:{smp.sport}")
    if len(set(ys)) < 2:
        return None, None
    x = np.stack(xs)
    head = AttributeHead.fit(x, np.array(ys), names, groups, seed=seed)
    familiarity = Familiarity.fit(head._z(x))
    familiarity.threshold = float(np.percentile(familiarity.distance(head._z(x)), 99))
    cv = head.cv.get("auroc", {})
    log(
        f"proficiency head: C={head.c}, temperature {head.temperature:.2f}"
        + (f", leave-one-movement-out AUROC {max(cv.values()):.3f}" if cv else "")
        + f" ({len(x)} views of {len(set(groups))} movements)"
    )
    return head, familiarity
