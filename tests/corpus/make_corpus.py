"""The bad-input corpus: hostile or broken inputs for ``crosstrainer``, generated at test time (nothing binary is kept).

Each case is a command line, the documented exit code it must end with (``crosstrainer.errors``), and the CPU
seconds it may use: the cheap cases must fail before any model loads (the embedded model costs about 10 CPU-s to
load), so a bound of a few CPU-seconds catches a model loaded for nothing whatever else runs on the machine.

    python tests/corpus/make_corpus.py OUT_DIR          # write the inputs and list the cases
    python tests/corpus/make_corpus.py OUT_DIR --run    # also run each case and print the docs/reliability.md table

``tests/test_cli_hardening.py`` runs every case and checks: the exit code, exactly one ``error:`` line on stderr,
no traceback, no file left behind, and the CPU/wall bound.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CLIP = ROOT / "examples" / "sample_bicep_curl.mp4"

# CPU seconds a case may use when it must fail before the model loads (imports and the checks take about 1-2).
CHEAP_CPU_S = 6.0
# Wall seconds for the same: generous, as a busy machine stretches everything (the CPU bound is the sharp one).
CHEAP_WALL_S = 45.0


@dataclass
class Case:
    name: str
    args: list[str]
    code: int
    what: str
    max_cpu_s: float = CHEAP_CPU_S
    max_wall_s: float = CHEAP_WALL_S
    sigint_after_cpu_s: float | None = None  # send SIGINT once the process has used this much CPU
    slow: bool = False  # loads the model on purpose (the documented outcome is only known after it)
    extra: dict = field(default_factory=dict)


def curl_keypoints(frames: int = 45, fps: float = 15.0) -> np.ndarray:
    """A synthetic COCO-17 person (pixels, confidence 1) curling the right arm: (frames, 17, 3) float32."""
    base = {
        "nose": (320, 100), "left_eye": (328, 92), "right_eye": (312, 92), "left_ear": (338, 96),
        "right_ear": (302, 96), "left_shoulder": (360, 160), "right_shoulder": (280, 160),
        "left_elbow": (370, 240), "right_elbow": (270, 240), "left_wrist": (372, 310), "right_wrist": (268, 310),
        "left_hip": (345, 320), "right_hip": (295, 320), "left_knee": (348, 420), "right_knee": (292, 420),
        "left_ankle": (350, 520), "right_ankle": (290, 520),
    }  # fmt: skip
    names = list(base)
    out = np.zeros((frames, 17, 3), np.float32)
    for t in range(frames):
        angle = np.pi * (0.5 - 0.45 * np.cos(2 * np.pi * t / fps / 2.0))  # forearm swings up and down every 2 s
        for j, name in enumerate(names):
            x, y = base[name]
            if name == "right_wrist":
                ex, ey = base["right_elbow"]
                x, y = ex + 70 * np.cos(angle) * 0.2, ey + 70 * np.sin(angle)
            out[t, j] = (x, y, 1.0)
    return out


def h263_lookalike(seed: int = 1) -> bytes:
    """Random bytes with a few H.263 picture start codes: FFmpeg's probe guesses a raw H.263 stream and decodes it."""
    rng = np.random.default_rng(seed)
    out = bytearray()
    for tr in range(12):
        bits = "0000000000000000100000" + format(tr, "08b") + "10" + "000" + "010" + "0" + "0000" + "00001" + "0"
        bits += "0" * (-len(bits) % 8)
        out += int(bits, 2).to_bytes(len(bits) // 8, "big") + rng.integers(0, 256, 600, dtype=np.uint8).tobytes()
    return bytes(out)


def tiny_blank_video(path: Path) -> Path:
    """Six grey 64x64 frames: a real, decodable video with nobody in it."""
    from crosstrainer.video.decode import write_test_clip

    return write_test_clip(path, np.full((6, 64, 64, 3), 128, np.uint8), fps=10)


def make_corpus(root: str | Path) -> list[Case]:
    """Write the corpus inputs under ``root/in`` and return the cases (their paths are absolute)."""
    root = Path(root)
    d = root / "in"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    kp = d / "curl_coco17.npy"
    np.save(kp, curl_keypoints())
    (d / "random.mp4").write_bytes(rng.integers(0, 256, 64_000, dtype=np.uint8).tobytes())
    (d / "h263_guess.mp4").write_bytes(h263_lookalike())
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("this is not a video\n" * 50)
    if SAMPLE_CLIP.is_file():
        (d / "truncated.mp4").write_bytes(SAMPLE_CLIP.read_bytes()[:2048])
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 30, 30)).save(d / "photo.png")
    (d / "photo.mp4").write_bytes((d / "photo.png").read_bytes())
    (d / "photo.png").unlink()
    (d / "-dash.npy").write_bytes(kp.read_bytes())
    (d / "a_file").write_text("not a folder\n")
    (d / "malformed.json").write_text('{"frames": [[1, 2, 3], ')
    (d / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    (d / "wrong_shape.npy").write_bytes(_npy_bytes(np.zeros((10, 5), np.float32)))
    (d / "huge_header.npy").write_bytes(_npy_header((9_999_999_999, 17, 3)) + b"\0" * 64)
    (d / "all_missing.npy").write_bytes(_npy_bytes(np.full((30, 17, 3), np.nan, np.float32)))
    (d / "comments.txt").write_text("keep your back straight\nknees out over the toes\n")
    tiny_blank_video(d / "nobody.mp4")
    unwritable = _unwritable_folder(root)

    def p(name: str) -> str:
        return str(d / name)

    cases = [
        Case("bad option value", ["assess", p("curl_coco17.npy"), "--kind", "banana"], 2, "--kind banana"),
        Case("unknown option", ["assess", p("curl_coco17.npy"), "--frobnicate"], 2, "an option that does not exist"),
        Case("file name starting with -", ["assess", "-dash.npy"], 2, "`-dash.npy`: hint to put -- first",
             extra={"cwd": str(d), "hint": "--"}),
        Case("--out-dir is a file", ["assess", p("curl_coco17.npy"), "--out-dir", p("a_file")], 2,
             "output folder is an existing file"),
        Case("--json in a missing folder under a file", ["assess", p("curl_coco17.npy"), "--json",
             p("a_file") + "/x.json"], 2, "a path through a file"),
        Case("--json and a batch", ["assess", p("curl_coco17.npy"), p("-dash.npy"), "--json", "x.json"], 2,
             "--json with two inputs"),
        Case("missing input", ["assess", p("no_such_clip.mp4")], 3, "the file does not exist"),
        Case("empty folder", ["assess", str(root / "empty_folder")], 3, "a folder with no inputs",
             extra={"mkdir": str(root / "empty_folder")}),
        Case("random bytes .mp4", ["assess", p("random.mp4")], 4, "64 kB of random bytes named .mp4"),
        Case("H.263 look-alike .mp4", ["assess", p("h263_guess.mp4")], 4,
             "random bytes with H.263 start codes (FFmpeg guesses a raw stream)"),
        Case("zero-length .mp4", ["assess", p("empty.mp4")], 4, "0 bytes"),
        Case("text named .mp4", ["assess", p("text.mp4")], 4, "a text file named .mp4"),
        Case("image named .mp4", ["assess", p("photo.mp4")], 4, "a PNG photo named .mp4"),
        Case("malformed JSON keypoints", ["assess", p("malformed.json")], 6, "JSON cut in the middle"),
        Case("deeply nested JSON", ["assess", p("nested.json")], 6, "100,000 nested brackets"),
        Case("keypoints of the wrong shape", ["assess", p("wrong_shape.npy")], 6, "a (10, 5) array"),
        Case("npy header claims 10^10 frames", ["assess", p("huge_header.npy")], 6,
             "declared shape (9999999999, 17, 3), 64 bytes of data"),
        Case("every keypoint missing", ["assess", p("all_missing.npy"), "--skeleton", "coco17"], 6,
             "all NaN: no person in the keypoints"),
        Case("model folder missing", ["assess", p("curl_coco17.npy"), "--model", str(root / "no_model")], 7,
             "--model points nowhere"),
        Case("batch of bad inputs only", ["assess", p("random.mp4"), p("empty.mp4"), "--out-dir",
             str(root / "batch_out")], 8, "two broken inputs: both reported, the model never loads"),
        Case("missing local LLM (discover)", ["discover", p("comments.txt"), "--backend", "transformers",
             "--model-path", str(root / "no_llm"), "--out", str(root / "vocab.json")], 9,
             "an opt-in backend's model folder is missing"),
        Case("Ctrl-C while loading the model", ["assess", p("curl_coco17.npy"), "--skeleton", "coco17",
             "--json", str(root / "interrupted.json")], 130, "SIGINT after 3 CPU-s", max_cpu_s=12.0,
             sigint_after_cpu_s=3.0),
        Case("video with nobody in it", ["assess", p("nobody.mp4")], 5,
             "6 grey frames; the pose pass runs before the language model loads", max_cpu_s=8.0),
    ]  # fmt: skip
    if unwritable is not None:
        cases.insert(
            4,
            Case("--out-dir not writable", ["assess", p("curl_coco17.npy"), "--out-dir", str(unwritable / "out")],
                 2, f"a folder that cannot be written ({unwritable})"),
        )  # fmt: skip
        cases.insert(
            5,
            Case("--report in a non-writable folder", ["assess", p("curl_coco17.npy"), "--report",
                 str(unwritable / "r.html")], 2, "report path that cannot be written"),
        )  # fmt: skip
    if not (d / "truncated.mp4").is_file():
        return cases
    cases.insert(
        next(i for i, c in enumerate(cases) if c.name == "zero-length .mp4"),
        Case("truncated .mp4", ["assess", p("truncated.mp4")], 4, "the first 2 kB of the sample clip"),
    )
    return cases


def _unwritable_folder(root: Path) -> Path | None:
    """A folder this process cannot write in: a chmod 555 folder, or (as root, who ignores modes) /sys or /proc."""
    folder = root / "read_only"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    candidates = [folder, Path("/sys"), Path("/proc")]
    for c in candidates:
        try:
            probe = c / f".write-test-{os.getpid()}"
            probe.mkdir()
        except OSError:
            return c
        probe.rmdir()
    return None


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def _npy_bytes(a: np.ndarray) -> bytes:
    return _npy_header(a.shape, a.dtype.str) + np.ascontiguousarray(a).tobytes()


@dataclass
class Outcome:
    code: int
    stderr: str
    wall_s: float
    cpu_s: float


def crosstrainer_command() -> list[str]:
    exe = Path(sys.executable).with_name("crosstrainer")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "crosstrainer.cli"]


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) used so far by a running process (Linux /proc), 0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def default_sigint() -> None:
    """In the child: Ctrl-C back to its default. A test run started in the background (``cmd &``, nohup) ignores
    SIGINT, every child inherits that, and Python then never raises KeyboardInterrupt: nothing to test."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_case(case: Case, cwd: str | Path, env: dict[str, str] | None = None) -> Outcome:
    """Run one case's command line in ``cwd``; returns exit code, stderr, wall and CPU seconds (children too)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    env.pop("CROSSTRAINER_DEBUG", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        crosstrainer_command() + case.args,
        cwd=case.extra.get("cwd", cwd),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a SIGINT sent to the process alone, as a terminal would
        preexec_fn=default_sigint,
    )
    if case.sigint_after_cpu_s is not None:
        deadline = time.perf_counter() + case.max_wall_s
        while proc.poll() is None and _cpu_of(proc.pid) < case.sigint_after_cpu_s and time.perf_counter() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=case.max_wall_s + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    usage = _reaped.pop(proc.pid, (None, None, None))[2]
    cpu = usage.ru_utime + usage.ru_stime if usage is not None else float("nan")
    return Outcome(proc.returncode, stderr, wall, cpu)


_reaped: dict[int, tuple] = {}


def _wait4_patch() -> None:
    """Make ``Popen`` reap children with ``os.wait4`` so each case's CPU time (with its threads) is known exactly."""
    if getattr(subprocess.Popen, "_corpus_wait4", False) or not hasattr(os, "wait4"):
        return
    original = subprocess.Popen._try_wait

    def _try_wait(self, wait_flags):
        try:
            pid, sts, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return original(self, wait_flags)
        if pid == self.pid:
            _reaped[pid] = (pid, sts, usage)
        return pid, sts

    subprocess.Popen._try_wait = _try_wait  # type: ignore[method-assign]
    subprocess.Popen._corpus_wait4 = True  # type: ignore[attr-defined]


_wait4_patch()


def files_under(folder: str | Path) -> set[str]:
    """Every file and folder below ``folder`` (relative paths), for the nothing-left-behind check."""
    folder = Path(folder)
    out = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        for n in dirnames + filenames:
            out.add(str(Path(dirpath, n).relative_to(folder)))
    return out


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    root = Path(argv[0]).resolve()
    cases = make_corpus(root)
    if "--run" not in argv:
        for c in cases:
            print(f"{c.code:>3}  {c.name}: crosstrainer {' '.join(c.args)}")
        return 0
    work = root / "cwd"
    work.mkdir(exist_ok=True)
    print("| case | input | exit code | CPU s | wall s |\n|---|---|---|---|---|")
    for c in cases:
        if "mkdir" in c.extra:
            Path(c.extra["mkdir"]).mkdir(exist_ok=True)
        out = run_case(c, work)
        mark = "" if out.code == c.code else f" (expected {c.code})"
        print(f"| {c.name} | {c.what} | {out.code}{mark} | {out.cpu_s:.1f} | {out.wall_s:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
