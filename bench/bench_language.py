"""Benchmark: the `language` verifier against whole-text lingua detection, one core, one run.

    .venv/bin/python bench/bench_language.py [--texts 2000]

The sample set (services/rlvr_services/data/language_share_samples.jsonl) is repeated to about
``--texts`` completions, each wrapped in <think>…</think>. Measured in the same process:
  * baseline: lingua's ``detect_language_of`` over each whole text, detector built from all the
    supported languages (one label per text, no share);
  * language: ``LanguageVerifier.verify_batch`` (script split, per-sentence lingua, shares).
Detectors are built and warmed before timing; the figure is responses per second on one core.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rlvr_client import Status
from rlvr_services.runtime.verifier import Task
from rlvr_services.verifiers.langdetect_text import SUPPORTED, build_detector
from rlvr_services.verifiers.language import LanguageParams, LanguageVerifier

SAMPLES = Path(__file__).resolve().parents[1] / "services" / "rlvr_services" / "data" / "language_share_samples.jsonl"


def load(count: int) -> list[dict[str, Any]]:
    samples = [json.loads(line) for line in SAMPLES.read_text("utf-8").splitlines() if line]
    return [samples[i % len(samples)] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    samples = load(args.texts)
    tasks = [Task(str(i), f"<think>{s['text']}</think>done", LanguageParams(language=s["language"]))
             for i, s in enumerate(samples)]
    texts = [s["text"] for s in samples]

    detector = build_detector(SUPPORTED)
    verifier = LanguageVerifier()
    for text in texts[:50]:  # warm-up: load every lingua model before timing
        detector.detect_language_of(text)
    verifier.verify_batch(tasks[:50])

    start = time.perf_counter()
    labels = [detector.detect_language_of(text) for text in texts]
    baseline_s = time.perf_counter() - start

    start = time.perf_counter()
    verdicts = verifier.verify_batch(tasks)
    language_s = time.perf_counter() - start

    within = sum(
        v.status is Status.OK and v.score is not None and abs(v.score - s["expected_share"]) <= s["tolerance"]
        for v, s in zip(verdicts, samples, strict=True)
    )
    right = sum(
        label is not None and label.iso_code_639_1.name.lower() == s["language"]
        for label, s in zip(labels, samples, strict=True)
        if s["id"].startswith("mono-")
    )
    mono = sum(s["id"].startswith("mono-") for s in samples)
    baseline_rate = len(texts) / baseline_s
    language_rate = len(tasks) / language_s
    print(f"texts: {len(texts)} ({len(SUPPORTED)} languages, one core)")
    print(f"baseline lingua detect_language_of (whole text, all languages): {baseline_rate:9.0f} responses/s"
          f"  ({right}/{mono} monolingual texts labelled right, no shares)")
    print(f"language verifier (scripts + lingua per sentence, clause):  {language_rate:9.0f} responses/s"
          f"  ({within}/{len(tasks)} shares within tolerance)")
    print(f"ratio language / baseline: {language_rate / baseline_rate:.2f}")


if __name__ == "__main__":
    main()
