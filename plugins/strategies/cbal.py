"""``cbal``: class-balanced entropy (Bengar et al. 2021), as the OREAL authors adapted it to superpixels.

Formula, the variants and the exact ``milp`` solver: docs/strategies.md#cbal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from albench_plugins.strategies._variant import Variant

from albench import RegionStatistic, Register, SelectionContext, Strategy, hookimpl
from albench.errors import ComponentError
from albench.selection import items_per_class, spend_in_score_order
from albench.statistics import PercentileMethod, RegionAggregation
from albench.uncertainty import Probabilities, ShannonEntropy

# The ε the OREAL authors' code adds inside the logarithm of the entropy.
OREAL_PAPER_LOG_EPSILON = 1e-7


@dataclass(frozen=True)
class CbalParams:
    """Parameters of ``cbal``.

    Attributes:
        aggregation: how H(x) is reduced over a region (mean in the paper; p̄ is always the mean).
        lambda_: λ, the weight of the class-balance term.
        variant: ``original`` or ``oreal-paper`` (n_b = 0 and ε = 1e-7 in the logarithm).
        solver: ``greedy`` top-Q (the paper) or ``milp`` (Bengar et al.'s binary program).
        percentile_method: how p95 falls between two pixel values, NumPy's rule of that name (``linear``,
            NumPy's default; ``lower``, ``higher``, ``nearest``, ``inverted_cdf``).
    """

    aggregation: RegionAggregation = "mean"
    lambda_: float = 2.0
    variant: Variant = "original"
    solver: Literal["greedy", "milp"] = "greedy"
    percentile_method: PercentileMethod = "linear"


def balance_target(counts: np.ndarray, budget: int) -> np.ndarray:
    """a/Σa with a = ITEMSPERCLASS(n, Q): the class distribution this round's picks should have."""
    allocation = items_per_class(counts, budget).astype(np.float64)
    total = allocation.sum()
    target: np.ndarray = allocation / total if total > 0 else allocation
    return target


class Cbal(Strategy):
    """CBAL: mean entropy minus λ times the L1 distance of the mean prediction from the balancing target."""

    name = "cbal"
    version = "1"
    Params = CbalParams

    def statistics(self, num_classes: int) -> tuple[RegionStatistic, ...]:
        eps = OREAL_PAPER_LOG_EPSILON if self.params.variant == "oreal-paper" else 0.0
        return (
            RegionStatistic(
                "entropy", ShannonEntropy(eps), self.params.aggregation, percentile_method=self.params.percentile_method
            ),
            RegionStatistic("mean_probs", Probabilities(), "mean"),
        )

    def class_counts(self, context: SelectionContext) -> np.ndarray:
        """n, with n_b = 0 under ``oreal-paper`` on datasets with a background class."""
        counts = context.labeled_class_counts.astype(np.int64).copy()
        if self.params.variant == "oreal-paper" and context.background_class is not None:
            counts[context.background_class] = 0
        return counts

    def scores(self, context: SelectionContext) -> np.ndarray:
        """score(s) = H̄(s) − λ·‖p̄(s) − a/Σa‖₁ for every pool region."""
        target = balance_target(self.class_counts(context), context.budget)
        distance = np.abs(context.region_stats["mean_probs"] - target).sum(axis=1)
        result: np.ndarray = context.region_stats["entropy"][:, 0] - self.params.lambda_ * distance
        return result

    def select(self, context: SelectionContext) -> np.ndarray:
        if self.params.solver == "milp":
            return self.select_milp(context)
        return spend_in_score_order(context, self.scores(context))

    def select_milp(self, context: SelectionContext) -> np.ndarray:
        """Bengar et al.'s binary program over the unlabeled regions (see the module docstring)."""
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_array, hstack, identity, vstack

        candidates = context.unlabeled_ids()
        n, c = len(candidates), context.num_classes
        if n == 0 or context.budget <= 0:
            return np.empty(0, dtype=np.int64)
        entropy = np.nan_to_num(context.region_stats["entropy"][candidates, 0].astype(np.float64), nan=0.0)
        probs = np.nan_to_num(context.region_stats["mean_probs"][candidates].astype(np.float64), nan=0.0)
        labeled = int(context.labeled.sum())
        target = np.maximum(0, (labeled + context.budget) // c - self.class_counts(context)).astype(np.float64)
        # Variables: z (n binaries), then t (c continuous) with t ≥ |Pᵀz − Ω| through two rows per class.
        objective = np.concatenate([-entropy, np.full(c, self.params.lambda_)])
        p_t = csr_array(probs.T)
        eye = identity(c, format="csr")
        balance = vstack([hstack([p_t, -eye]), hstack([-p_t, -eye])])
        constraints = [LinearConstraint(balance, -np.inf, np.concatenate([target, -target]))]
        if context.unit_cost:
            row = np.concatenate([np.ones(n), np.zeros(c)])
            count = min(context.budget, n)
            constraints.append(LinearConstraint(row[None, :], count, count))
        else:
            row = np.concatenate([context.region_cost(candidates).astype(np.float64), np.zeros(c)])
            constraints.append(LinearConstraint(row[None, :], -np.inf, context.budget))
        integrality = np.concatenate([np.ones(n), np.zeros(c)])
        bounds = Bounds(np.zeros(n + c), np.concatenate([np.ones(n), np.full(c, np.inf)]))
        result = milp(
            objective,
            integrality=integrality,
            bounds=bounds,
            constraints=constraints,
            options={"disp": False, "mip_rel_gap": 0.0},
        )
        if result.x is None:
            raise ComponentError(
                f"strategy 'cbal' (solver=milp): HiGHS found no solution ({result.message}); use solver=greedy"
            )
        chosen = candidates[result.x[:n] > 0.5]
        # Most uncertain first, so that the order means something too.
        order = np.lexsort((chosen, -entropy[np.searchsorted(candidates, chosen)]))
        selected: np.ndarray = chosen[order]
        return selected


@hookimpl
def register_strategies(register: Register) -> None:
    register(Cbal)
