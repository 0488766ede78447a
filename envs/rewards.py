"""Moody & Saffell's differential Sharpe ratio, for one portfolio (floats) or many (arrays).

Moody, Wu, Liao & Saffell (1998) and Moody & Saffell (2001): with exponential moving estimates
`A` (first moment) and `B` (second moment) of the returns `R`, updated at rate `eta`,

    D_t = (B_{t-1} * dA - A_{t-1} * dB / 2) / (B_{t-1} - A_{t-1}**2) ** 1.5
    dA = R_t - A_{t-1},  dB = R_t**2 - B_{t-1},  A_t = A_{t-1} + eta*dA,  B_t = B_{t-1} + eta*dB

is the first-order effect of R_t on the moving Sharpe ratio. Both moments start at 0, and D is 0
while the variance estimate `B - A**2` is not yet above `MIN_VARIANCE` (no Sharpe ratio exists yet).
"""

from __future__ import annotations

from envs.execution import Amount

MIN_VARIANCE = 1e-12


def differential_sharpe(
    log_return: Amount, mean: Amount, second_moment: Amount, eta: float
) -> tuple[Amount, Amount, Amount]:
    """(reward, new mean, new second moment); operators only, so floats and arrays both work."""
    d_mean = log_return - mean
    d_second = log_return * log_return - second_moment
    variance = second_moment - mean * mean
    formed = variance > MIN_VARIANCE
    safe_variance = variance + (1.0 - formed)  # any positive number where D is masked to 0
    reward = (second_moment * d_mean - 0.5 * mean * d_second) / safe_variance**1.5 * formed
    return reward, mean + eta * d_mean, second_moment + eta * d_second
