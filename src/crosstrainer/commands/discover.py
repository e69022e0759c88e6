"""``crosstrainer discover``: skill-attributes and a canonical vocabulary from expert commentary.

With ``--samples-out`` the input samples are written back with each comment's ``attributes`` and ``window``
filled in, ready for training::

    crosstrainer discover egoexo:/data/egoexo?split=train --out vocab.json --samples-out train.samples.jsonl
    crosstrainer train run --data samples:train.samples.jsonl --vocabulary vocab.json --out runs/m1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from crosstrainer.errors import UsageError


def input_samples(spec: str) -> list[Any]:
    """The Samples behind a discover input: a dataset ``NAME:PATH`` or a JSONL of Sample records."""
    from crosstrainer.data.registry import load_samples, parse_spec, sniff

    name, path, _ = parse_spec(spec)
    if name is None and (not Path(path).is_file() or sniff(path) != "samples"):
        raise UsageError(f"--samples-out needs Sample records (JSONL) or a dataset NAME:PATH as input, not {spec}")
    return load_samples(spec)


def fill_samples(samples: list[Any], results: list[Any]) -> list[Any]:
    """Copies of ``samples`` with ``attributes``/``window`` of each comment taken from the discovery results.

    Result ids follow ``items_from_samples``: the sample id, plus ``#k`` when a sample has several comments.
    Comments without a result (``--limit``, empty text, extraction error) are left as they were.
    """
    by_id = {r.id: r for r in results if r.error is None}
    out = []
    for smp in samples:
        commentary = []
        for k, com in enumerate(smp.commentary):
            r = by_id.get(smp.id if len(smp.commentary) == 1 else f"{smp.id}#{k}")
            if r is not None:
                window = tuple(r.window) if r.window is not None else com.window
                com = com.model_copy(update={"attributes": list(r.attributes), "window": window})
            commentary.append(com)
        out.append(smp.model_copy(update={"commentary": commentary}))
    return out


def register(app: typer.Typer) -> None:
    app.command("discover")(discover_command)


def discover_command(
    input: str = typer.Argument(
        ...,
        help="Commentary: a .txt file (one comment a line), .jsonl/.json ({'text', 'sport', 'time_s', 'id'} or "
        "Sample records), or a dataset NAME:PATH such as mtl_aqa:../shared/data/mtl_aqa.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Vocabulary file to write (.json, or .yaml/.yml)."),
    items_out: Path | None = typer.Option(None, "--items", help="Also write per-comment attributes here (JSONL)."),
    samples_out: Path | None = typer.Option(
        None, "--samples-out", help="Also write the input samples with attributes and windows filled (for training)."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML file of discover settings."),
    backend: str | None = typer.Option(None, "--backend", "-b", help="offline (default) | openai | transformers."),
    sport: str | None = typer.Option(None, "--sport", help="Sport of comments that do not name one."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://host/v1."),
    model: str | None = typer.Option(None, "--model", help="Model name for the endpoint."),
    api_key_env: str | None = typer.Option(None, "--api-key-env", help="Env var with the API key [OPENAI_API_KEY]."),
    model_path: str | None = typer.Option(None, "--model-path", help='Local instruct model folder, or "smollm2".'),
    concurrency: int | None = typer.Option(None, "--concurrency", help="Requests in flight (openai backend)."),
    timeout_s: float | None = typer.Option(None, "--timeout", help="Per-request timeout in seconds."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="LLM reply cache [<out stem>.cache]."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the reply cache."),
    window_s: float | None = typer.Option(None, "--window", help="Window width (s) ending at each comment [5]."),
    min_count: int | None = typer.Option(None, "--min-count", help="Drop attributes seen in fewer comments [2]."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N comments (for a quick look)."),
) -> None:
    """Discover skill-attributes from expert commentary and write a vocabulary that training reads."""
    from rich.console import Console

    from crosstrainer.discover import DiscoverConfig, discover, make_backend, read_items, write_items
    from crosstrainer.progress import progress_bar

    cfg = DiscoverConfig.from_yaml(config) if config else DiscoverConfig()
    cfg = cfg.updated(
        backend=backend,
        sport=sport,
        base_url=base_url,
        model=model,
        api_key_env=api_key_env,
        model_path=model_path,
        max_concurrency=concurrency,
        timeout_s=timeout_s,
        cache_dir=str(cache_dir) if cache_dir else None,
        use_cache=False if no_cache else None,
        window_s=window_s,
        min_count=min_count,
    )
    if out.suffix not in (".json", ".yaml", ".yml"):
        raise UsageError(f"--out {out}: use a .json, .yaml or .yml file name")
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    samples = input_samples(input) if samples_out is not None else None
    if samples is not None:  # read once; the same items (and ids) that read_items would make
        from crosstrainer.discover.items import items_from_samples
        from crosstrainer.errors import InvalidAnnotationError

        items = items_from_samples(samples, cfg.sport)[:limit]
        if not items:
            raise InvalidAnnotationError(f"{input}: no commentary found")
    else:
        items = read_items(input, default_sport=cfg.sport)[:limit]
    out.parent.mkdir(parents=True, exist_ok=True)
    extractor = make_backend(cfg, cache_dir=out.with_name(out.stem + ".cache"))
    console = Console(stderr=True)
    from crosstrainer.discover.pipeline import NoAttributesError

    with progress_bar(f"discover ({cfg.backend})", console=console, transient=True) as bar:
        task = bar.add_task("items", total=len(items))
        try:
            results, vocab = discover(
                items, cfg, backend=extractor, progress=lambda n: bar.advance(task, n), source=input
            )
        except NoAttributesError as exc:  # still write every comment with the reason it gave nothing
            if items_out is None:
                raise NoAttributesError(f"{exc}; add --items FILE for the reason per comment", exc.results) from exc
            items_out.parent.mkdir(parents=True, exist_ok=True)
            write_items(items_out, exc.results)
            raise NoAttributesError(f"{exc}; the reason per comment is in {items_out}", exc.results) from exc
    vocab.save(out)
    if items_out is not None:
        items_out.parent.mkdir(parents=True, exist_ok=True)
        write_items(items_out, results)
    if samples is not None and samples_out is not None:
        from crosstrainer.data.registry import save_samples

        save_samples(fill_samples(samples, results), samples_out)
    meta = vocab.meta
    n_jargon = sum(not a.transferable for a in vocab.attributes)
    console.print(
        f"{meta['n_items']} comments: {meta['n_with_attributes']} with attributes to improve, {meta['n_praise']} praise"
        + (f", {meta['n_failed']} failed" if meta["n_failed"] else "")
        + f"; {len(vocab.attributes)} attributes ({n_jargon} sport-specific) -> {out}"
        + (f"; requests sent: {extractor.requests}" if cfg.backend != "offline" else "")
    )
