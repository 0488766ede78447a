"""DQN and PPO agents trained on `envs`, each decision with a calibrated confidence.

`agents` imports `envs` only. The top level is the agent at decision time (`DRLAgent`, its
directory, manifest and confidence map); `agents.training` trains and evaluates agents.

The exported names are listed in `__init__.pyi` and imported on first use, so importing one
part of the package never loads the others (the trading env alone would pull in torch).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
