"""The firmware packed for the Apollo3's secure bootloader (Ambiq's SBL, in ROM/flash below 0xC000),
written from the formats AmbiqSuite's `create_cust_image_blob.py` and
`create_cust_wireupdate_blob.py` (with `am_defines.py`) produce; not yet tried on a board.

Two layers, both little-endian:
  * the image blob (non-secure main image, magic 0xCB): a 128-byte header, then the app padded
    to whole words (pad bytes hold the pad length, AmbiqSuite's `pad_to_block_size`):
        0   w0 = magic << 24 | blob length (header + padded app); bit 23 (encrypted) clear
        4   w1 = CRC-32 (zlib's) of header bytes 8..127 and the padded app
        8   w2 = security byte << 24: CRC checked on install (0x10), no authentication or
             encryption (algorithms and key indices 0)
        16..111  signature, IV, key-encryption key, clear signature: zero (unused)
        112 load address | protection (2 bits, 0)
        116 version (15 bits) | erase-previous << 15
        120, 124  child pointers: 0xFFFFFFFF
  * the wired-update blob around it (image type 6 = non-secure): a 96-byte header, then the
    image blob:
        0   w0 = auth algo | auth key index << 8 | enc algo << 16 | enc key index << 24 (the
             tools' default indices, 8, with both algorithms off: 0x08000800)
        16..79   signature, IV, key-encryption key: zero
        80  image type (u8), 81 options (u8: bit 0 = install the image after the download)
        84  the flash key (AmbiqSuite's 0x12344321)
        88  where the bootloader stages the blob in flash (0x20000, as TFLM's instructions use)
        92  the size of what follows
"""

from __future__ import annotations

import struct
import zlib

IMAGE_MAGIC_NONSECURE = 0xCB
IMAGE_HEADER_BYTES = 128
WIRED_HEADER_BYTES = 96
IMAGETYPE_NONSECURE = 6
FLASH_KEY = 0x12344321
DEFAULT_KEY_INDEX = 8
SECURITY_CRC_ON_INSTALL = 0x10
APP_ADDRESS = 0xC000            # where the SBL starts a non-secure image
STAGING_ADDRESS = 0x20000       # where the wired update is staged in flash
OPTION_INSTALL = 0x1
MAX_STAGED_BYTES = 0x48000      # one wired-update piece (AmbiqSuite's MAX_DOWNLOAD_SIZE)


def pad_to_words(app: bytes) -> bytes:
  """AmbiqSuite's padding: up to a multiple of 4, each pad byte holding the pad length."""
  pad = (-len(app)) % 4
  return app + bytes([pad]) * pad


def image_blob(app: bytes, load_address: int = APP_ADDRESS, version: int = 0) -> bytes:
  """The non-secure image blob of a raw firmware binary (objcopy -O binary) linked at
  `load_address`."""
  if load_address & 0x3:
    raise ValueError(f"load address 0x{load_address:x} is not word aligned")
  if not 0 <= version < 1 << 15:
    raise ValueError(f"version {version} does not fit 15 bits")
  app = pad_to_words(app)
  header = bytearray(IMAGE_HEADER_BYTES)
  struct.pack_into("<I", header, 0, IMAGE_MAGIC_NONSECURE << 24 | (IMAGE_HEADER_BYTES + len(app)))
  struct.pack_into("<I", header, 8, SECURITY_CRC_ON_INSTALL << 24)
  struct.pack_into("<IIII", header, 112, load_address, version, 0xFFFFFFFF, 0xFFFFFFFF)
  struct.pack_into("<I", header, 4, zlib.crc32(bytes(header[8:]) + app) & 0xFFFFFFFF)
  return bytes(header) + app


def wired_update_blob(blob: bytes, staging_address: int = STAGING_ADDRESS,
                      options: int = OPTION_INSTALL) -> bytes:
  """An image blob wrapped for the bootloader's UART wired update (one piece)."""
  blob = pad_to_words(blob)
  if len(blob) > MAX_STAGED_BYTES:
    raise ValueError(f"{len(blob):,} bytes: over the {MAX_STAGED_BYTES:,} of one wired-update "
                     "piece")
  header = bytearray(WIRED_HEADER_BYTES)
  struct.pack_into("<I", header, 0, DEFAULT_KEY_INDEX << 8 | DEFAULT_KEY_INDEX << 24)
  header[80], header[81] = IMAGETYPE_NONSECURE, options
  struct.pack_into("<III", header, 84, FLASH_KEY, staging_address, len(blob))
  return bytes(header) + blob
