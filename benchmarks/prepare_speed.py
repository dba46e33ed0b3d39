"""Time ``adasgn prepare ntu60`` end to end over many copies of the two real NTU fixtures.

    python benchmarks/prepare_speed.py [--files 2000] [--runs 3] [--workers N] [--copy]

The one-person (A001, CRLF) and two-person (A058, LF) fixtures from ../shared/data/ntu (or
$ADASGN_SHARED_DATA/ntu) are placed N times, alternately, into a temporary folder under valid
NTU names (hard links by default, real copies with --copy; nothing is written into the
repository). Prints the median over --runs of: end-to-end ``prepare_ntu`` (listing, parsing,
denoising, centring, splitting, the pickle written atomically) and parse only
(``read_ntu_skeleton`` in one process), in ms per file. The issue's target: <= 1.45 ms/file end
to end on the 2-core reference machine (the official three-script pipeline: 14.5 ms/file).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fixture_dir() -> Path:
    base = Path(os.environ.get("ADASGN_SHARED_DATA", ROOT.parent / "shared" / "data"))
    d = base / "ntu"
    if not (d / "S001C001P001R001A001.skeleton").is_file():
        sys.exit(f"NTU fixtures not found in {d} (set ADASGN_SHARED_DATA)")
    return d


def populate(dst: Path, n: int, copy: bool) -> list[Path]:
    src = fixture_dir()
    a001 = src / "S001C001P001R001A001.skeleton"
    a058 = src / "S001C001P001R001A058.skeleton"
    seeds = []
    for f in (a001, a058):  # one local copy of each, then links to it
        local = dst.parent / f"seed_{f.name}"
        shutil.copyfile(f, local)
        seeds.append(local)
    out = []
    for i in range(n):
        one_person = i % 2 == 0
        setup, camera, performer, rep = 1 + i % 17, 1 + i % 3, 1 + (i // 3) % 40, 1 + i % 2
        action = 1 + (i // 2) % 49 if one_person else 50 + (i // 2) % 11  # mutual: A050-A060
        # NTU names are exactly 20 characters: repeated names go into further subfolders
        folder = dst / f"{i // 500:02d}"
        folder.mkdir(exist_ok=True)
        path = folder / f"S{setup:03d}C{camera:03d}P{performer:03d}R{rep:03d}A{action:03d}.skeleton"
        k = 0
        while path.exists():
            k += 1
            folder = dst / f"{i // 500:02d}_{k}"
            folder.mkdir(exist_ok=True)
            path = folder / path.name
        seed = seeds[0] if one_person else seeds[1]
        if copy:
            shutil.copyfile(seed, path)
        else:
            os.link(seed, path)
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="default: all cores")
    ap.add_argument("--copy", action="store_true", help="real copies instead of hard links")
    args = ap.parse_args(argv)

    from adasgn.data.prepare import prepare_ntu
    from adasgn.data.readers import read_ntu_skeleton

    with tempfile.TemporaryDirectory(prefix="adasgn_bench_") as tmp:
        tmp = Path(tmp)
        raw = tmp / "raw"
        raw.mkdir()
        files = populate(raw, args.files, args.copy)
        names = {p.name for p in files}
        out = tmp / "out" / "ntu.pkl"
        e2e, parse, cpu = [], [], []

        def cpu_s() -> float:
            ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
            return sum(r.ru_utime + r.ru_stime for r in ru)

        for _ in range(args.runs):
            c0 = cpu_s()
            t0 = time.perf_counter()
            res = prepare_ntu(raw, out, "ntu60", workers=args.workers, progress=False)
            e2e.append((time.perf_counter() - t0) * 1000 / len(files))
            cpu.append((cpu_s() - c0) * 1000 / len(files))
            if res.kept != len(files) or res.rejects:
                print(f"unexpected rejects: {res.rejects[:3]}", file=sys.stderr)
                return 1
            t0 = time.perf_counter()
            for p in files:
                read_ntu_skeleton(p)
            parse.append((time.perf_counter() - t0) * 1000 / len(files))
        size = out.stat().st_size / 1e6
        print(f"{len(files)} files ({len(names)} distinct names, {res.kept} kept), "
              f"workers={args.workers or os.cpu_count()}, {args.runs} runs, output {size:.1f} MB")
        print(f"end to end (prepare_ntu): median {statistics.median(e2e):.3f} ms/file "
              f"(runs: {', '.join(f'{x:.3f}' for x in e2e)})")
        print(f"CPU time, all processes:  median {statistics.median(cpu):.3f} ms/file "
              f"(wall on an idle machine is about this / number of cores)")
        print(f"parse only (1 process):   median {statistics.median(parse):.3f} ms/file "
              f"(runs: {', '.join(f'{x:.3f}' for x in parse)})")
        print(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other work "
              "running at the same time slows every figure)")
        print("target: <= 1.45 ms/file end to end (official pipeline 14.5 ms/file)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
