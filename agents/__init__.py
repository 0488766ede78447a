"""DQN and PPO agents trained on `envs`, each decision with a calibrated confidence."""
