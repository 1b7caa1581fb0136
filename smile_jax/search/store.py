"""The search's run store: one SQLite row per (candidate, seed), in the search workdir.

Rows are written when a training finishes (status 'done') or fails ('failed', with the error), so
a search killed at any point restarts, finds every finished (candidate, seed) here and trains only
what is missing. Specs are keyed by their canonical hash (architecture only, not the name), so
the store also records the recipe its trainings used: opening it with another recipe (other
epochs, datasets, distillation, ...) fails instead of mixing results that are not comparable.
"""

from __future__ import annotations

import json
import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  hash TEXT NOT NULL,
  seed INTEGER NOT NULL,
  name TEXT,
  spec_json TEXT NOT NULL,
  parent_hash TEXT,
  reduction TEXT,
  macs INTEGER,
  other_ops INTEGER,
  params INTEGER,
  peak_ram_bytes INTEGER,
  weight_bytes INTEGER,
  epochs INTEGER,
  val_auc REAL,
  val_loss REAL,
  train_seconds REAL,
  status TEXT NOT NULL,
  error TEXT,
  finished_at REAL,
  PRIMARY KEY (hash, seed)
);
"""

META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"

COLUMNS = ("hash", "seed", "name", "spec_json", "parent_hash", "reduction", "macs", "other_ops",
           "params", "peak_ram_bytes", "weight_bytes", "epochs", "val_auc", "val_loss",
           "train_seconds", "status", "error", "finished_at")


class RunStore:
  def __init__(self, path: str, recipe: dict | None = None):
    """`recipe`: what the stored trainings depend on (JSON-able); recorded on first use, and a
    store made with another one is refused."""
    self.path = path
    self.db = sqlite3.connect(path)
    self.db.execute(SCHEMA)
    self.db.execute(META_SCHEMA)
    columns = {row[1] for row in self.db.execute("PRAGMA table_info(runs)")}
    if columns != set(COLUMNS):
      self.db.close()
      raise ValueError(f"{path} was made by another version of the run store (columns "
                       f"{sorted(columns ^ set(COLUMNS))} differ); use a new --workdir")
    if recipe is not None:
      wanted = json.dumps(recipe, sort_keys=True)
      stored = self.db.execute("SELECT value FROM meta WHERE key='recipe'").fetchone()
      if stored is None:
        self.db.execute("INSERT INTO meta VALUES ('recipe', ?)", (wanted,))
      elif stored[0] != wanted:
        old, new = json.loads(stored[0]), json.loads(wanted)
        differ = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        self.db.close()
        raise ValueError(f"{path} holds trainings made with another recipe (differs in "
                         f"{differ}); use a new --workdir, or the recipe it was made with")
    self.db.commit()

  def get(self, spec_hash: str, seed: int) -> dict | None:
    row = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM runs WHERE hash=? AND seed=?",
                          (spec_hash, seed)).fetchone()
    return dict(zip(COLUMNS, row)) if row else None

  def put(self, **row) -> None:
    row.setdefault("finished_at", time.time())
    unknown = set(row) - set(COLUMNS)
    if unknown:
      raise KeyError(f"unknown run-store columns {sorted(unknown)}")
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    self.db.execute(f"INSERT OR REPLACE INTO runs ({names}) VALUES ({marks})", tuple(row.values()))
    self.db.commit(
    )  # each finished training is durable at once: a kill loses at most the one in flight

  def all(self) -> list[dict]:
    rows = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM runs ORDER BY finished_at").fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows]

  def close(self) -> None:
    self.db.close()
