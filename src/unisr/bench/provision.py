"""Dataset provisioning for the suites: MovieLens-1M imported from the shared folder, the simulated marketplace
simulated once into the suite's out folder, a dataset with TreeMS's share scenarios checked.

Shapes:
    (no tensors) a path or nothing -> a canonical dataset folder
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from unisr.bench.registry import SuiteError

DEFAULT_SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def ensure_movielens(data: Path | None, out: Path, console: Console) -> Path:
    """A canonical MovieLens-1M dataset: ``data`` if it is one, else imported from ``data`` (or the shared
    folder) into ``out/data``."""
    from unisr.data.importers.movielens import import_movielens

    if data is not None and (data / "dataset.yaml").exists():
        return data
    src = data or (DEFAULT_SHARED / "movielens-1m")
    if not src.exists():
        raise SuiteError(
            f"MovieLens-1M not found at {src}. Put the GroupLens ml-1m files (ratings.dat, users.dat, "
            "movies.dat) or RecBole atomic files there, or pass --data DIR."
        )
    dest = out / "data"
    if not (dest / "dataset.yaml").exists():
        console.print(f"importing MovieLens-1M from {src} -> {dest}")
        import_movielens(src, dest)
    return dest


# the suites' records were made on data version 1 (small seed 0: b475b4b1ebd2cc80, `make sim-recorded`), so
# the data a suite simulates for itself stays v1 although `unisr simulate`'s default is v2 since issue 32
RECORDED_DATA = {"version": 1}


def ensure_simulated(data: Path | None, out: Path, preset: str, console: Console, seed: int = 0) -> Path:
    """``data`` if given (a canonical dataset), else the simulated ``preset`` marketplace in ``out/data``
    (simulated once, then reused)."""
    from unisr.simulate.api import simulate

    if data is not None:
        data = Path(data)
        if not (data / "dataset.yaml").exists():
            raise SuiteError(f"--data {data}: no dataset.yaml (a canonical dataset folder is expected)")
        return data
    dest = Path(out) / "data"
    if not (dest / "dataset.yaml").exists():
        console.print(f"simulating the {preset} marketplace (seed {seed}, data version 1) -> {dest}")
        simulate(preset, dest, seed=seed, overrides=RECORDED_DATA)
    return dest


def ensure_share_data(data: Path | None, out: Path, console: Console) -> Path:
    """``data`` if it is a canonical dataset with share scenarios, else the simulated ``small`` marketplace."""
    from unisr.data.schema import DatasetSpec

    if data is None:
        data = out / "data"
        if not (data / "dataset.yaml").exists():
            from unisr.simulate.api import simulate

            console.print(f"simulating the small marketplace (data version 1) into {data}")
            simulate("small", data, 0, overrides=RECORDED_DATA)
    if not (data / "dataset.yaml").exists():
        raise SuiteError(f"{data}: no dataset.yaml; pass --data with a canonical dataset (e.g. unisr simulate)")
    spec = DatasetSpec.load(data)
    if not any(str(s.kind).endswith("share") for s in spec.scenarios):
        raise SuiteError(f"{data}: no share scenarios; TreeMS needs a dataset with kind 'share' scenarios")
    if not (Path(data) / "social.parquet").exists():
        raise SuiteError(f"{data}: no social.parquet; TreeMS's graph needs the users' social views")
    return Path(data)


def require_scenarios(data: Path | None, needed: tuple[str, ...], suite: str) -> Path:
    """``data``, a canonical dataset holding the scenarios ``needed`` (the usr suite's search and feed)."""
    from unisr.data.schema import DatasetSpec

    if data is None or not (Path(data) / "dataset.yaml").exists():
        raise SuiteError(f"suite {suite} needs --data DIR: a simulated marketplace (`make sim-recorded SIM=DIR`: "
                         "the data version 1 its records were made on; or unisr simulate --preset small --out DIR)")
    names = {s.name for s in DatasetSpec.load(Path(data)).scenarios}
    if not set(needed) <= names:
        raise SuiteError(f"suite {suite} needs scenarios {' and '.join(map(repr, needed))} "
                         f"(the simulated marketplace); {data} has {sorted(names)}")
    return Path(data)
