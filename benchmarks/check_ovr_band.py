"""Check OvrEntropy's key tolerance on every float32 probability: no pixel outside the band can score higher.

    .venv/bin/python benchmarks/check_ovr_band.py              # every float32 p in [0, ½] (about a minute)
    .venv/bin/python benchmarks/check_ovr_band.py --stride 61  # every 61st one: a quick look

The engine takes a region's maximal one-vs-rest entropy H_c from the pixels whose key k = p(1 − p) lies
within ``OvrEntropy.key_tolerance`` ulps of the region's maximal key (``albench/engine/_keyed_max.py``). That
is exact if, for every pair of probabilities p, p* with k(p) ≤ k(p*), torch's float32 H(p) > H(p*) implies
that k(p) is at most the tolerance below k(p*) (in ulps of the float32 key). This script checks it on all
2³⁰ float32 values of [0, ½] (those of [½, 1] mirror them exactly: 1 − p is exact there, and it checks that
H(1 − p) = H(p) and k(1 − p) = k(p) on the way), with H computed by torch on this machine, chunk by chunk.

For each p (in increasing order, where the key grows too, up to a dip of a few ulps that the script measures)
the *gap* is how far below k(p), in ulps, lies the smallest key of any probability scoring strictly above
H(p): the band must be at least that wide. It also checks the rule for keys of 0 (p = 0 and p = 1 score
−ln(1 + ε), no higher than any p with a larger key). Prints the widest gap per binade of the key.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import torch

from albench.uncertainty import OvrEntropy, ovr_entropy

CHUNK = 1 << 24
HISTORY = 1 << 22  # how far back (in values) a beater may lie; the script says when that was not enough


@numba.njit(nogil=True)
def _scan(codes, scores, state, history_codes, history_best, kept, worst, counters):  # pragma: no cover
    """One chunk, in increasing p. ``state``: running maximum of the codes and of the scores' order keys."""
    running_code, running_best = state[0], state[1]
    for t in range(codes.shape[0]):
        code, score = codes[t], scores[t]
        if code > running_code:
            running_code = code
        counters[0] = max(counters[0], running_code - code)  # the key's dip below its running maximum
        if running_best > score:  # some smaller p scores higher: find the first that does
            low, high = 0, kept + t
            if history_best[0] > score:
                counters[1] += 1  # the history was too short to hold it
            while low < high:
                middle = (low + high) // 2
                if history_best[middle] > score:
                    high = middle
                else:
                    low = middle + 1
            gap = code - history_codes[low]  # its code is at least the running maximum there, minus the dip
            binade = (code >> 23) & 0xFF
            if gap > worst[binade]:
                worst[binade] = gap
        if score > running_best:
            running_best = score
        history_codes[kept + t] = running_code
        history_best[kept + t] = running_best
    state[0], state[1] = running_code, running_best


def _score_order(values: np.ndarray) -> np.ndarray:
    """float32 → int64 with the same order (negative scores reflected)."""
    bits = values.view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stride", type=int, default=1, help="check every n-th float32 only (a quicker look)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tolerance = OvrEntropy.key_tolerance
    assert tolerance is not None
    end = int(np.float32(0.5).view(np.int32))
    state = np.array([-1, np.iinfo(np.int64).min], dtype=np.int64)
    history_codes = np.empty(HISTORY + CHUNK, dtype=np.int64)
    history_best = np.empty(HISTORY + CHUNK, dtype=np.int64)
    worst = np.full(256, -1, dtype=np.int64)
    counters = np.zeros(2, dtype=np.int64)  # the key's largest dip (ulps), history overflows
    kept, mirrored, lowest_positive = 0, 0, np.inf
    zero = float(ovr_entropy(torch.zeros(1))[0])
    started = time.perf_counter()
    for first in range(0, end + 1, CHUNK * args.stride):
        bits = torch.arange(first, min(first + CHUNK * args.stride, end + 1), args.stride, dtype=torch.int64)
        p = bits.to(torch.int32).view(torch.float32)
        keys, scores = (p * (1 - p)).numpy(), ovr_entropy(p).numpy()
        on_grid = p[(p * 2**24).frac() == 0]  # the probabilities whose 1 − p is exact: H and k mirror
        mirror = 1 - on_grid
        mirrored += int((ovr_entropy(mirror).view(torch.int32) != ovr_entropy(on_grid).view(torch.int32)).sum())
        mirrored += int(
            ((mirror * (1 - mirror)).view(torch.int32) != (on_grid * (1 - on_grid)).view(torch.int32)).sum()
        )
        positive = keys > 0
        if positive.any():
            lowest_positive = min(lowest_positive, float(scores[positive].min()))
        _scan(
            keys.view(np.int32).astype(np.int64),
            _score_order(scores),
            state,
            history_codes,
            history_best,
            kept,
            worst,
            counters,
        )
        total = kept + len(keys)
        kept = min(total, HISTORY)
        history_codes[:kept] = history_codes[total - kept : total]
        history_best[:kept] = history_best[total - kept : total]
    dip, overflows = int(counters[0]), int(counters[1])
    print(
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, every "
        f"{args.stride}. float32 of [0, ½], {time.perf_counter() - started:.0f} s"
    )
    print(
        f"key dips below its running maximum by at most {dip} ulp; mirror mismatches (H or k of 1 − p): "
        f"{mirrored}; history too short: {overflows} times"
    )
    print(
        f"keys of 0 score {zero:.9g}; the lowest score of any positive key is {lowest_positive:.9g} "
        f"({'not below' if lowest_positive >= zero else 'BELOW'} it)\n"
    )
    print("| key binade | widest gap (ulps, dip included) | tolerance (ulps) |")
    print("|---|---:|---:|")
    widest = 0
    for binade in range(256):
        if worst[binade] >= 0:
            gap = int(worst[binade]) + dip
            widest = max(widest, gap)
            print(f"| [2^{binade - 127}, 2^{binade - 126}) | {gap} | {tolerance} |")
    holds = widest <= tolerance and overflows == 0 and mirrored == 0 and lowest_positive >= zero
    print(f"\nwidest gap {widest} ulps against a tolerance of {tolerance}: {'holds' if holds else 'DOES NOT HOLD'}")


if __name__ == "__main__":
    main()
