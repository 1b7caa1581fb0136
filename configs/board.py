r"""Profiling runs on a board over the serial protocol (app/board.py).

Launch (after `experiments.deploy` on the same run):
  .venv/bin/python -m experiments.board --config=configs/board.py --workdir=runs/main --port=qemu
  .venv/bin/python -m experiments.board --workdir=runs/main --port=/dev/ttyUSB0   # a flashed Edge
Writes <run>/board/board.md and board.json. Measured on QEMU (runs/search_distilled's chosen
net, the whole test split): see WORKSPACE.md (issue 12).
"""

import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.timeout_s = 10.0      # per request: a silent board is an error after this long
  config.baud = 115200         # serial ports only (the Edge's UART0, 8N1)
  config.max_images = 0        # 0: the whole test split (or folder)
  return config
