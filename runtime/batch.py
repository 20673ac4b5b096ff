"""`stylevideo a.mp4 b.mp4 clips/ -o OUTDIR`: many inputs, one output each, in one folder.

Why a module of its own: a batch has different failure rules from a single run. A bad flag, an unknown
style or an unusable OUTDIR is still one line and exit 2 before anything starts; but once jobs run, a
failing input is one line on stderr (and a JSON record with --json) and the others go on. The summary
comes at the end; exit 1 if any input failed. Each output is written atomically, so --skip-existing can
resume an interrupted batch without trusting half-written files.

--jobs N runs N inputs at once, each on its own stylizer (an inference engine is not shared between
threads) with the CPU threads divided between them.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from runtime import catalog
from runtime.errors import _ENV_ERRNOS, InputError, PartialFailure, StylecastError, _prog, one_line
from runtime.frames import IMAGE_SUFFIXES, FrameOptions

# inputs a folder contributes; other files there (notes, subtitles) are left alone
VIDEO_INPUTS = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".ts", ".m2ts", ".mts", ".mpg", ".mpeg", ".flv", ".wmv")
_print_lock = threading.Lock()


@dataclass
class Job:
    """One input and where its output goes; `problem` is an error known before it starts (not found...)."""

    input: Path
    output: Path
    problem: str | None = None


def expand_inputs(paths: list[str]) -> list[tuple[Path, str | None]]:
    """Files, folders (their videos and images, not recursive) and globs -> (input, problem) in the given
    order, each file once. A path that names nothing is kept with its problem, so it fails as one job."""
    out: list[tuple[Path, str | None]] = []
    seen: set[Path] = set()

    def add(path: Path, problem: str | None = None) -> None:
        key = path.resolve() if path.exists() else path
        if key not in seen:
            seen.add(key)
            out.append((path, problem))

    for text in paths:
        path = Path(text)
        if path.is_dir():
            media = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                           and p.suffix.lower() in VIDEO_INPUTS + IMAGE_SUFFIXES)
            if not media:
                add(path, f"no videos or images in folder {path}")
            for p in media:
                add(p)
        elif path.exists():
            add(path)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                add(path, f"no file matches {text}")
            for m in matches:
                out.extend(expand_inputs([m]) if Path(m).is_dir() else [])
                if Path(m).is_file():
                    add(Path(m))
        else:
            add(path, f"input not found: {path}")
    return out


def output_for(src: Path, outdir: Path) -> Path:
    """OUTDIR/<input name>: a video or image keeps its extension, other containers (.ts, .mpg...) become .mp4."""
    from runtime.media import VIDEO_SUFFIXES

    suffix = src.suffix.lower()
    return outdir / (src.stem + (src.suffix if suffix in VIDEO_SUFFIXES + IMAGE_SUFFIXES else ".mp4"))


def plan(paths: list[str], outdir: Path) -> list[Job]:
    """The jobs, or InputError (exit 2, nothing started) when there are none or two would write one file."""
    jobs = [Job(src, output_for(src, outdir), problem) for src, problem in expand_inputs(paths)]
    if not jobs:
        raise InputError("no inputs")
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"-o {outdir} exists and is not a folder")
    if not outdir.parent.is_dir():
        raise InputError(f"output folder does not exist: {outdir.parent}")
    taken: dict[Path, Path] = {}
    for job in jobs:
        if job.problem is None and job.output in taken:
            raise InputError(f"{taken[job.output]} and {job.input} would both be written as {job.output}; "
                             f"rename one or run them separately")
        taken[job.output] = job.input
    return jobs


def job_record(src: str | os.PathLike | None, dst: str | os.PathLike | None, stats: dict | None = None,
               error: BaseException | str | None = None, status: str | None = None) -> dict[str, Any]:
    """The --json record of one job: the same keys whatever happened, so scripts need no special cases."""
    stats = stats or {}
    if isinstance(error, BaseException):
        error = describe_error(error)
    return {"input": None if src is None else str(src), "output": None if dst is None else str(dst),
            "frames": stats.get("frames"), "seconds": None if "seconds" not in stats else round(stats["seconds"], 3),
            "backend": stats.get("backend"), "status": status or ("error" if error else "ok"), "error": error}


def describe_error(exc: BaseException) -> str:
    """One line for any failure: our own messages as they are, others with their type (they are bugs or engine faults)."""
    if isinstance(exc, StylecastError):
        return one_line(str(exc))
    if isinstance(exc, OSError) and exc.errno in _ENV_ERRNOS:
        return f"{_ENV_ERRNOS[exc.errno]} while writing; nothing was written"
    if isinstance(exc, MemoryError):
        return "out of memory; use a smaller --max-size (or --batch 1)"
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted ({exc})" if str(exc) else "interrupted"
    return one_line(f"{exc.__class__.__name__}: {exc}")


def print_record(record: dict[str, Any]) -> None:
    """One JSON object per line on stdout, whole (jobs on other threads never interleave)."""
    with _print_lock:
        print(json.dumps(record), flush=True)


def _say(message: str) -> None:
    with _print_lock:
        print(message, file=sys.stderr, flush=True)


class Engines:
    """One stylizer per worker thread, opened on first use: the first in the main thread (so an unknown
    style or a missing engine is exit 2 before any job), the others silently with the same settings."""

    def __init__(self, args: argparse.Namespace, jobs: int, threads: int | None = None, quiet: bool = False):
        self.args = args
        self.threads = threads or max(1, (args.threads or os.cpu_count() or 1) // jobs)
        self.local = threading.local()
        # the first net opens now, in the caller's thread (exit 2 before any job), unless quiet (a Ray worker:
        # opened on first use, so an input that is skipped or already failed costs no model load)
        self.first = None if quiet else self._open(announce=None)
        self.first_taken = False
        self.lock = threading.Lock()

    def _open(self, announce: Callable[[str], None] | None):
        from runtime.cli_common import model_spec
        from runtime.engines import open_stylizer

        device = getattr(self.args, "device", "cpu")
        extra = {"device": device} if device != "cpu" else {}  # keyword only where the engine takes it
        return open_stylizer(model_spec(self.args, catalog.DEFAULT_STYLE), self.args.backend, self.threads, announce=announce,
                             precision=self.args.precision, **extra)

    def get(self):
        net = getattr(self.local, "net", None)
        if net is None:
            with self.lock:
                if not self.first_taken:
                    net, self.first_taken = self.first, True
            net = net or self._open(announce=lambda _m: None)  # the first net said which backend; the rest are alike
            self.local.net = net
        return net


def run_job(job: Job, engines: Engines, args: argparse.Namespace) -> dict[str, Any]:
    """One input to its output; the stats dict with 'status' ('ok' or 'skipped'); failures raise."""
    from runtime.media import frame_size_and_rate
    from runtime.video import check_job, check_memory, process_job

    if job.problem:
        raise InputError(job.problem)
    if args.skip_existing and job.output.exists():
        return {"status": "skipped"}
    image_input, files = check_job(job.input, job.output, args.codec)
    net = engines.get()
    opts = FrameOptions(args.max_size, args.strength, args.preserve_color)
    check_memory(frame_size_and_rate(job.input)[0], opts, net, args.batch)
    stats = process_job(job.input, job.output, net, opts, image_input, files, smooth=args.smooth, fps=args.fps,
                        keep_going=args.keep_going, batch=args.batch, progress=not args.quiet and args.jobs == 1,
                        max_frames=args.max_frames, strict=args.strict, cfr=args.cfr, codec=args.codec, crf=args.crf,
                        bitrate=args.bitrate, preset=args.preset)
    stats["status"] = "ok"
    return stats


def run_job_record(job: Job, engines: Engines, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """run_job that never raises an Exception: (its --json record, its stats) for a success or a failure alike."""
    try:
        stats = run_job(job, engines, args)
    except Exception as exc:  # noqa: BLE001 - one failure never stops the others
        return job_record(job.input, job.output, error=exc), {}
    return job_record(job.input, job.output, stats=stats, status=stats["status"]), stats


# ---- Ray (pip install 'stylecast[cluster]'): one task per input, on a cluster or a local one ----

def _connect_ray(address: str):
    """The ray module, connected: to the cluster already initialised in this process, to ADDRESS, or with
    'auto' to the cluster this machine belongs to (a local one is started when there is none)."""
    from runtime.errors import DependencyError

    try:
        import ray
    except ImportError:
        raise DependencyError("--ray needs Ray: pip install 'stylecast[cluster]'") from None
    if ray.is_initialized():
        return ray
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except ConnectionError as exc:
        if address != "auto":
            raise InputError(f"--ray {address}: no Ray cluster answers there ({one_line(str(exc))[:200]})") from None
        _say("note: --ray auto: no Ray cluster is running here; starting a local one")
        ray.init(log_to_driver=False, logging_level="ERROR")
    return ray


def _ray_attempt(job: Job, args: argparse.Namespace, threads: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One input on a Ray worker. A retried attempt (its worker died) first removes the dead attempt's
    temporaries: outputs are only ever renamed into place whole, so there is one complete file or none."""
    _drop_temporaries([job])
    _test_kill(args, job.input, job)
    record, stats = run_job_record(job, Engines(args, 1, threads=threads, quiet=True), args)
    stats.pop("profile", None)
    return record, {k: v for k, v in stats.items() if isinstance(v, (int, float, str, list, type(None)))}


def _test_kill(args: argparse.Namespace, src: Path, watched: Job, when: bool = True) -> None:
    """Tests only (args.test_kill_once names an input): the first worker on it dies once watched.output is begun."""
    kill = getattr(args, "test_kill_once", None)
    if when and kill and src.name == Path(kill).name and not Path(kill + ".killed").exists():
        Path(kill + ".killed").touch()
        threading.Thread(target=_die_when_begun, args=(watched,), daemon=True).start()


def _die_when_begun(job: Job) -> None:
    """Tests: exit this worker process abruptly as soon as the job's temporary output exists (mid-job)."""
    deadline = time.time() + 60
    while time.time() < deadline and not list(job.output.parent.glob(f".{glob.escape(job.output.stem)}.*")):
        time.sleep(0.01)
    os._exit(1)


def _run_on_ray(ray, jobs: list[Job], args: argparse.Namespace, report: Callable[[int, dict, dict], None]) -> None:
    """Each input is a Ray task (with --chunk-seconds, long videos are a task per chunk and a join task:
    runtime.chunks); Ray retries a task whose worker dies (max_retries), never one whose input failed
    (that comes back as an error record). Records are reported as tasks finish."""
    from runtime.chunks import submit_chunked

    threads = args.threads or 1
    task = ray.remote(_ray_attempt).options(num_cpus=threads, max_retries=3, retry_exceptions=False)

    def submit(job: Job):
        ref = submit_chunked(ray, job, args, threads)
        return task.remote(job, args, threads) if ref is None else ref

    pending = {submit(job): i for i, job in enumerate(jobs)}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(done[0])
            try:
                record, stats = ray.get(done[0])
            except Exception as exc:  # noqa: BLE001 - a task Ray gave up on (worker died too often, node lost)
                record, stats = job_record(jobs[i].input, jobs[i].output, error=f"Ray task failed: {describe_error(exc)}"), {}
                _drop_temporaries([jobs[i]])
            report(i, record, stats)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise


def _check_before_start(jobs: list[Job], args: argparse.Namespace) -> None:
    """Flags that would fail every job are one line and exit 2 now, not N identical failures later."""
    from runtime.cli_common import smoother_from_args
    from runtime.media import VIDEO_SUFFIXES, check_codec, default_codec

    if args.sheet:
        raise StylecastError("--sheet makes one image from one photo: stylevideo photo.jpg sheet.jpg --sheet (no -o)")
    if "," in (args.style or ""):
        raise StylecastError("several --style names make a contact sheet of one photo; a batch takes one style")
    if args.profile or args.realtime:
        raise StylecastError(f"{'--profile' if args.profile else '--realtime'} is for a single input (stylevideo IN OUT)")
    smoother_from_args(args)
    for suffix in sorted({j.output.suffix.lower() for j in jobs if j.output.suffix.lower() in VIDEO_SUFFIXES}):
        probe = Path("probe" + suffix)
        check_codec(args.codec or default_codec(probe), probe)


def _drop_temporaries(jobs: list[Job]) -> None:
    """After an interrupt, the worker threads' temporaries (.<stem>.*<suffix> beside each output) are removed:
    the process leaves before those threads unwind their atomic outputs."""
    for job in jobs:
        for tmp in job.output.parent.glob(f".{glob.escape(job.output.stem)}.*"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
            elif tmp.is_dir():
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)


def run_batch(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The whole batch: plan, checks, jobs (N at once), one line per failure, the summary; the records.
    Raises PartialFailure (exit 1) when any input failed."""
    outdir = Path(args.output_dir)
    jobs = plan(args.inputs, outdir)
    _check_before_start(jobs, args)
    workers = min(args.jobs, len(jobs))
    ray = _connect_ray(args.ray) if getattr(args, "ray", None) else None
    engines = None if ray else Engines(args, workers)
    outdir.mkdir(exist_ok=True)
    records: list[dict[str, Any] | None] = [None] * len(jobs)
    t0 = time.perf_counter()

    def report(i: int, record: dict[str, Any], stats: dict[str, Any]) -> None:
        job, records[i] = jobs[i], record
        if record["status"] == "error":
            _say(f"{_prog()}: error: {job.input}: {record['error']}")
        else:
            for line in stats.get("warnings", []):
                _say(line)
            if record["status"] == "skipped":
                _say(f"{job.output}: exists, skipped (--skip-existing)")
            else:
                _say(f"{job.output}: {stats['frames']} frames in {stats['seconds']:.1f} s ({stats['fps']:.1f} FPS), "
                     f"backend {stats['backend']}, audio {stats['audio']}")
        if args.json:
            print_record(record)

    def one(i: int) -> None:
        report(i, *run_job_record(jobs[i], engines, args))

    try:
        if ray is not None:
            _run_on_ray(ray, jobs, args, report)
        elif workers == 1:
            for i in range(len(jobs)):
                one(i)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="stylevideo-job") as pool:
                for future in [pool.submit(one, i) for i in range(len(jobs))]:
                    future.result()
    except BaseException:
        _drop_temporaries(jobs)
        raise
    done = [r for r in records if r is not None]
    failed = [r for r in done if r["status"] == "error"]
    skipped = sum(r["status"] == "skipped" for r in done)
    written = len(done) - len(failed) - skipped
    summary = (f"{written} of {len(jobs)} input{'s' if len(jobs) > 1 else ''} written to {outdir} in "
               f"{time.perf_counter() - t0:.1f} s" + (f", {skipped} skipped (already there)" if skipped else ""))
    if failed:
        raise PartialFailure(f"{summary}; {len(failed)} failed: {', '.join(Path(r['input']).name for r in failed)}")
    _say(summary)
    return done
