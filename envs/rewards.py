"""Moody & Saffell's differential Sharpe ratio, for one portfolio (floats) or many (arrays).

Moody, Wu, Liao & Saffell (1998) and Moody & Saffell (2001): with exponential moving estimates
`A` (first moment) and `B` (second moment) of the returns `R`, updated at rate `eta`,

    D_t = (B_{t-1} * dA - A_{t-1} * dB / 2) / (B_{t-1} - A_{t-1}**2) ** 1.5
    dA = R_t - A_{t-1},  dB = R_t**2 - B_{t-1},  A_t = A_{t-1} + eta*dA,  B_t = B_{t-1} + eta*dB

is the first-order effect of R_t on the moving Sharpe ratio. Both moments start at 0, and D is 0
while the variance estimate `B - A**2` is not yet above `MIN_VARIANCE` (no Sharpe ratio exists yet).

The code is `envs.kernels.differential_sharpe` (operators only, so floats and arrays both work),
beside the compiled batched step that calls it; this module is its documented home.
"""

from __future__ import annotations

from envs.kernels import MIN_VARIANCE, differential_sharpe

__all__ = ["MIN_VARIANCE", "differential_sharpe"]
