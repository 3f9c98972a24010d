"""``python -m geoapp``: the same command line as ``geoapp``."""

from geoapp.cli import main

if __name__ == "__main__":
    main(prog_name="geoapp")
