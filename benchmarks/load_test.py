"""Bounded load test of `ferx serve` on loopback: N requests, C concurrent, a share of them hostile.

Valid requests (a 640x480 photo with one face) must all get 200 with one face; hostile ones (a PNG bomb, a JPEG
declaring 20000x20000, random bytes, a truncated JPEG, an 11-MB body with and without Content-Length, and a
legitimate 12-megapixel photo) must get their own answer (413, 415 or 200). Prints errors, p50/p95 of the valid
requests, requests/s and the server process's peak memory (VmHWM: peak resident set size).

Usage: python benchmarks/load_test.py [--requests 500] [--concurrency 16] [--adversarial 0.25] [--backend auto]
       [--detector NAME]
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import io
import socket
import statistics
import struct
import subprocess
import sys
import time
import zlib

import httpx
import numpy as np
from PIL import Image

from ferx.data.fer2013 import load_train_test
from ferx.inference.faces import DEFAULT_DETECTOR

MAX_MB = 10


def photo_bytes(data: str, size: tuple[int, int] = (640, 480)) -> bytes:
    face = load_train_test(data)["test"].images[0]
    w, h = size
    scene = np.full((h, w), 110, np.uint8)
    side = h // 3
    scene[h // 5 : h // 5 + side, (w - side) // 2 : (w + side) // 2] = np.asarray(
        Image.fromarray(face).resize((side, side), Image.BICUBIC))
    buf = io.BytesIO()
    Image.fromarray(scene).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG: tens of kB that decode to width*height pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row, comp = b"\0" * (1 + (width + 7) // 8), zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def hostile_bodies(photo: bytes, data: str) -> dict[str, tuple[bytes, int]]:
    """name -> (body, the status it must get)."""
    sof = photo.index(b"\xff\xc0")
    huge_header = photo[: sof + 5] + struct.pack(">HH", 20000, 20000) + photo[sof + 9 :]
    rng = np.random.default_rng(0)
    return {
        "bomb": (png_bomb(13000, 13000), 413),
        "huge header": (huge_header, 413),
        "garbage": (rng.bytes(50_000), 415),
        "truncated": (photo[: len(photo) // 2], 415),
        "oversized": (rng.bytes(MAX_MB * 1024 * 1024 + 1), 413),
        "oversized chunked": (rng.bytes(MAX_MB * 1024 * 1024 + 1), 413),
        "12 MP photo": (photo_bytes(data, (4000, 3000)), 200),
    }


async def run(url: str, photo: bytes, hostile: dict, n: int, concurrency: int, share: float):
    latencies, errors, outcomes = [], 0, collections.Counter()
    sem = asyncio.Semaphore(concurrency)
    names = list(hostile)
    every = round(1 / share) if share > 0 else 0
    plan = [names[(i // every) % len(names)] if every and i % every == every - 1 else None for i in range(n)]

    async with httpx.AsyncClient(timeout=120) as client:
        async def one(kind: str | None) -> None:
            nonlocal errors
            async with sem:
                if kind is None:
                    t0 = time.perf_counter()
                    r = await client.post(url, files={"file": ("photo.jpg", photo, "image/jpeg")})
                    latencies.append((time.perf_counter() - t0) * 1000)
                    errors += r.status_code != 200 or len(r.json()["faces"]) != 1
                    return
                body, want = hostile[kind]
                if kind == "oversized chunked":
                    async def stream():
                        for i in range(0, len(body), 1 << 16):
                            yield body[i : i + (1 << 16)]
                    content = stream()
                else:
                    content = body
                try:
                    r = await client.post(url, content=content, headers={"content-type": "application/octet-stream"})
                    status = r.status_code
                    ok = status == want and (status == 200 or "error" in r.json())
                except httpx.TransportError:  # the server may close an oversized upload's connection early
                    status, ok = "closed", kind.startswith("oversized")
                outcomes[(kind, status, "as expected" if ok else "WRONG")] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one(k) for k in plan))
        return latencies, errors, outcomes, time.perf_counter() - t0


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--adversarial", type=float, default=0.25, help="share of hostile requests (0: only valid ones)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx", "int8"])
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, help="the server's face detector (default: the product's)")
    args = p.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "ferx.cli", "serve", "--port", str(port), "--backend", args.backend,
                               "--max-mb", str(MAX_MB), "--detector", args.detector],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        photo = photo_bytes(args.data)
        hostile = hostile_bodies(photo, args.data)
        httpx.post(f"http://127.0.0.1:{port}/predict", content=photo, timeout=60)  # warm-up
        ready = memory_mb(server.pid, "VmRSS")
        lat, errors, outcomes, wall = asyncio.run(run(f"http://127.0.0.1:{port}/predict", photo, hostile,
                                                      args.requests, args.concurrency, args.adversarial))
        peak = memory_mb(server.pid, "VmHWM")
        q = statistics.quantiles(lat, n=100)
        print(f"{args.requests} requests ({len(lat)} valid), {args.concurrency} concurrent, backend {args.backend}, "
              f"detector {args.detector}: "
              f"{errors} errors on valid requests, p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
              f"{args.requests / wall:.1f} requests/s")
        for (kind, status, verdict), count in sorted(outcomes.items(), key=str):
            print(f"  hostile {kind}: {count} x {status} ({verdict})")
        print(f"server memory: {ready:.0f} MB after warm-up, peak {peak:.0f} MB (VmHWM)")
        if errors or any(verdict == "WRONG" for _, _, verdict in outcomes):
            sys.exit(1)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
