"""Code that runs *inside* the sandbox: the zygote, the per-job child and the helpers they share.

Everything here imports only the standard library (plus ``pyseccomp``, loaded by file path), because
the zygote is a fresh ``python -I -S`` interpreter that puts this directory on ``sys.path`` and
imports the package as ``jail``. The host imports the same modules as ``components.sandbox.jail``
for the frame codec; nothing here may import Django or the rest of the project.
"""
