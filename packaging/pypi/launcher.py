"""The `datasource-mcp-server` command: runs the `datasource-mcp` binary this wheel installed.

PyPI's name for the project (`datasource-mcp-server`; `datasource-mcp` is another project's)
differs from the binary's, and `uvx NAME` runs the command called NAME, so the wheel installs
this small console script beside the binary. `datasource-mcp` itself is the binary, with no
Python in between.
"""
import os
import subprocess
import sys
import sysconfig
from importlib import metadata

DISTRIBUTION = "datasource-mcp-server"
EXE = "datasource-mcp.exe" if os.name == "nt" else "datasource-mcp"


def binary():
    """The binary's path: from the files pip recorded for this distribution, else the scripts
    directory of the running interpreter's environment."""
    try:
        for file in metadata.distribution(DISTRIBUTION).files or ():
            if file.name == EXE:
                path = os.path.abspath(str(file.locate()))
                if os.path.isfile(path):
                    return path
    except metadata.PackageNotFoundError:
        pass
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.argv[0])):
        path = os.path.join(folder, EXE)
        if os.path.isfile(path):
            return path
    sys.exit(f"{DISTRIBUTION}: the {EXE} binary of this package is missing; reinstall it")


def main():
    path = binary()
    if os.name == "nt":
        # Windows has no exec: run it, hand stdio over, and exit with its status.
        sys.exit(subprocess.call([path, *sys.argv[1:]]))
    os.execv(path, [path, *sys.argv[1:]])


if __name__ == "__main__":
    main()
