"""Train DQN or PPO trading agents: `python train.py --algo {dqn,ppo} --data SOURCE --out DIR`.

The options are those of `hybrid-trader train`; both come from `agents.training.cli`.
"""

from __future__ import annotations

from agents.training import main

if __name__ == "__main__":
    main()
