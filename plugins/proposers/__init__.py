"""The search proposers (random hill climb, grid) and the value domains they share with Optuna's."""
