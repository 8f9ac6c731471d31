"""Published numbers the suites compare against (from ../shared/data/README.md)."""

# Scenario-Wise Rec (Li et al., 2024, arXiv 2412.17374), MovieLens-1M, 3 age scenarios, mean of 3 seeds.
SWR_MOVIELENS = {
    "shared_bottom": {"auc": 0.8095, "logloss": 0.5228, "scenarios": [0.8116, 0.8128, 0.8041]},
    "mmoe": {"auc": 0.8086, "logloss": 0.5218, "scenarios": [0.8029, 0.8178, 0.8016]},
    "ple": {"auc": 0.8091, "logloss": 0.5257, "scenarios": [0.8118, 0.8187, 0.8002]},
    "star": {"auc": 0.8096, "logloss": 0.5258, "scenarios": [0.8137, 0.8133, 0.7979]},
    "sarnet": {"auc": 0.8092, "logloss": 0.5245, "scenarios": [0.8068, 0.8158, 0.8026]},
    "m2m": {"auc": 0.8115, "logloss": 0.5213, "scenarios": [0.8111, 0.8163, 0.8057]},
    "adasparse": {"auc": 0.8108, "logloss": 0.5205, "scenarios": [0.8109, 0.8188, 0.7947]},
    "adaptdhm": {"auc": 0.8083, "logloss": 0.5238, "scenarios": [0.8074, 0.8160, 0.7995]},
    "epnet": {"auc": 0.8097, "logloss": 0.5215, "scenarios": [0.8100, 0.8148, 0.8031]},
    "ppnet": {"auc": 0.8063, "logloss": 0.5257, "scenarios": [0.8084, 0.8113, 0.7994]},
}
