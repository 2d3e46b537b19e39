"""Bounded load test of `ferx serve` on loopback: N requests, C concurrent; prints errors, p50/p95 and req/s.

Usage: python benchmarks/load_test.py [--requests 500] [--concurrency 16] [--backend auto]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import socket
import statistics
import subprocess
import sys
import time

import httpx
import numpy as np
from PIL import Image

from ferx.data.fer2013 import load_train_test


def photo_bytes(data: str) -> bytes:
    face = load_train_test(data)["test"].images[0]
    scene = np.full((480, 640), 110, np.uint8)
    scene[100:260, 240:400] = np.asarray(Image.fromarray(face).resize((160, 160), Image.BICUBIC))
    buf = io.BytesIO()
    Image.fromarray(scene).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


async def run(url: str, body: bytes, n: int, concurrency: int) -> tuple[list[float], int, float]:
    latencies, errors = [], 0
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60) as client:
        async def one() -> None:
            nonlocal errors
            async with sem:
                t0 = time.perf_counter()
                r = await client.post(url, files={"file": ("photo.jpg", body, "image/jpeg")})
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += r.status_code != 200 or len(r.json()["faces"]) != 1
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return latencies, errors, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx", "int8"])
    p.add_argument("--data", default="../shared/fer2013")
    args = p.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "ferx.cli", "serve", "--port", str(port), "--backend", args.backend],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        body = photo_bytes(args.data)
        lat, errors, wall = asyncio.run(run(f"http://127.0.0.1:{port}/predict", body, args.requests, args.concurrency))
        q = statistics.quantiles(lat, n=100)
        print(f"{args.requests} requests, {args.concurrency} concurrent, backend {args.backend}: {errors} errors, "
              f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, {args.requests / wall:.1f} requests/s")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
