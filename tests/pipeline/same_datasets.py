"""same_datasets.py REF OUT [REF OUT ...]: every dataset of every video in the parts of each OUT
equals REF's (flowgen or trajgen output directories), and no video is in two parts. The fault
tests (full_disk.sh, kill_resume.sh, enospc_inject.sh) compare a resumed run with an uninterrupted one."""
import glob
import os
import sys

import h5py
import numpy as np


def datasets(root):
    out = {}
    for part in sorted(glob.glob(os.path.join(root, "shard-*", "part-*.h5"))):
        with h5py.File(part, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    assert name not in out, (part, name)  # a video in two parts
                    out[name] = obj[()]
            f["videos"].visititems(visit)
    return out


args = sys.argv[1:]
for ref, out in zip(args[0::2], args[1::2]):
    x, y = datasets(ref), datasets(out)
    assert x.keys() == y.keys(), (out, sorted(set(x) ^ set(y)))
    for k in x:
        assert np.array_equal(x[k], y[k]), (out, k)
    print(f"{out}: {len(x)} datasets equal to the uninterrupted run's")
