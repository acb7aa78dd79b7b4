"""Training and ONNX export of the models the workstation explains with.

Run as `/usr/bin/python3 -m training <command>`; see `python3 -m training --help`.
"""
