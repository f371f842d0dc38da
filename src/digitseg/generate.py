"""``digitseg-generate``: write a preset's canvases of one split to disk (see conf/generate.yaml).

The Hydra configs live in the repository's ``conf/`` folder, found from this file's location;
that works for the editable install (``pip install -e .``) the project uses.
"""

import hydra
from omegaconf import DictConfig

from digitseg.data.export import write_split
from digitseg.data.sources import build_generator
from digitseg.utils.config import CONF_DIR


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="generate")
def main(cfg: DictConfig) -> None:
    """Write ``count`` canvases of ``split`` of the ``data`` preset to ``out_dir``."""
    split = cfg.split
    count = cfg.count if cfg.count is not None else cfg.data[f"{split}_size"]
    generator = build_generator(cfg.data, cfg.paths)
    out_dir = write_split(
        generator,
        split,
        int(count),
        cfg.out_dir,
        fmt=cfg.format,
        overwrite=cfg.overwrite,
        name=cfg.data.name,
    )
    print(f"wrote {count} {cfg.data.name}/{split} canvases ({cfg.format}) to {out_dir}")


if __name__ == "__main__":
    main()
