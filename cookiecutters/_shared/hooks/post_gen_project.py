"""Make every `bootstrap` executable: Lambda refuses one without the bit, and Serverless copies the mode on disk
into the layer zip as it is. The template's own mode can be lost on the way (a zip download, some checkouts)."""

import os
import stat

for folder, _dirs, files in os.walk("."):
    for name in files:
        if name == "bootstrap" or name.endswith(".sh"):
            path = os.path.join(folder, name)
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
