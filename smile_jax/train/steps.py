"""Train state, the report's optimizer and schedule, and the pure train/eval steps.

`train_step` is one pure function used two ways: under `jax.jit` on one device, and under
`jax.pmap` with `axis_name="batch"` for data parallelism, where gradients, the loss and batch-norm
statistics are averaged across devices so both paths compute the same update.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Optional

import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training import train_state

from smile_jax.models import net as net_lib
from smile_jax.models.spec import ModelSpec


class TrainState(train_state.TrainState):
  batch_stats: Any
  dropout_key: jax.Array
  # Knowledge distillation (weight, temperature): static, so a recipe without it compiles as
  # before; used only when batches carry the teacher's logits.
  distill: tuple = struct.field(pytree_node=False, default=(0.0, 1.0))
  # Which loss the step minimises (OBJECTIVES): static, one compiled step per objective.
  objective: str = struct.field(pytree_node=False, default="classify")


def learning_rate_schedule(cfg, steps_per_epoch: int) -> optax.Schedule:
  """Linear warmup from 0 to `peak_lr` over `warmup_epochs`, then cosine decay to 0 (report
  4.2.1)."""
  total = max(1, cfg.epochs * steps_per_epoch)
  warmup = min(cfg.warmup_epochs * steps_per_epoch, total - 1)
  return optax.warmup_cosine_decay_schedule(0.0, cfg.peak_lr, warmup, total, end_value=0.0)


def make_optimizer(cfg, steps_per_epoch: int) -> optax.GradientTransformation:
  """SGD + Nesterov with the schedule above (and weight decay if set).

  Memoised on the numbers: the optimizer is a static part of the train state, so runs with the
  same recipe (the search's seeds) share it and with it the compiled train step.
  """
  return _optimizer(cfg.epochs, cfg.warmup_epochs, cfg.peak_lr, cfg.momentum, cfg.nesterov,
                    cfg.weight_decay, steps_per_epoch)


@functools.lru_cache(maxsize=64)
def _optimizer(epochs, warmup_epochs, peak_lr, momentum, nesterov, weight_decay, steps_per_epoch):
  cfg = types.SimpleNamespace(epochs=epochs, warmup_epochs=warmup_epochs, peak_lr=peak_lr)
  sgd = optax.sgd(
      learning_rate_schedule(cfg, steps_per_epoch), momentum=momentum, nesterov=nesterov)
  if weight_decay:
    return optax.chain(optax.add_decayed_weights(weight_decay), sgd)
  return sgd


@functools.lru_cache(maxsize=256)
def _init(spec: ModelSpec, bn_axis_name: Optional[str]):
  """The model's jitted `init`, one per spec: a fresh `jax.jit` each call compiled it again for
  every seed (~3.5 s each for the compact family on 2 cores)."""
  return jax.jit(functools.partial(net_lib.build(spec, bn_axis_name).init, train=False))


def create_state(spec: ModelSpec, cfg, steps_per_epoch: int, seed: int,
                 bn_axis_name: Optional[str] = None, objective: str = "classify") -> TrainState:
  model = net_lib.build(spec, bn_axis_name)
  init_key, dropout_key = jax.random.split(jax.random.key(seed))
  variables = _init(spec, bn_axis_name)(init_key, jnp.zeros((1, *spec.input_shape), jnp.float32))
  tx = make_optimizer(cfg, steps_per_epoch)
  distill = ((float(cfg.distill_weight), float(cfg.distill_temperature))
             if objective == "classify" else (0.0, 1.0))
  return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                           batch_stats=variables.get("batch_stats", {}),
                           dropout_key=jax.random.key_data(dropout_key), distill=distill,
                           objective=objective)


def cross_entropy(logits, labels):
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def distillation_loss(logits, teacher_logits, temperature: float):
  """Hinton et al.'s soft-target term: KL(teacher || student) at `temperature`, times T^2 so its
  gradients keep their size as T changes."""
  teacher = jax.nn.softmax(teacher_logits / temperature)
  student = jax.nn.log_softmax(logits / temperature)
  kl = jnp.sum(teacher * (jnp.log(jnp.clip(teacher, 1e-12)) - student), axis=-1)
  return temperature ** 2 * kl.mean()


def classification_loss(logits, batch: dict, distill: tuple):
  """Cross-entropy on the batch's labels; a batch with "teacher" logits adds the distillation
  term (weighted by `distill` = (weight, temperature))."""
  loss = cross_entropy(logits, batch["label"])
  if "teacher" in batch:
    weight, temperature = distill
    loss = (1.0 - weight) * loss + weight * distillation_loss(logits, batch["teacher"],
                                                              temperature)
  return loss


def face_map_loss(maps, batch: dict, distill: tuple):
  """The face locator's loss on its (B, H, W, 4) maps (data/face_map.py): CenterNet's
  penalty-reduced focal loss on the heat logits against the batch's "heat" targets, plus the
  L1 error of (dx, dy, log2 size) at the cells "box_weight" marks, each term per face."""
  del distill
  logit, target = maps[..., 0], batch["heat"]
  prob = jax.nn.sigmoid(logit)
  centre = (target >= 1.0).astype(maps.dtype)
  positive = -centre * (1.0 - prob) ** 2 * jax.nn.log_sigmoid(logit)
  negative = -(1.0 - centre) * (1.0 - target) ** 4 * prob ** 2 * jax.nn.log_sigmoid(-logit)
  faces = jnp.maximum(centre.sum(), 1.0)
  weight = batch["box_weight"]
  box = jnp.sum(jnp.abs(maps[..., 1:] - batch["box"]) * weight[..., None])
  return (positive.sum() + negative.sum()) / faces + box / jnp.maximum(weight.sum(), 1.0)


OBJECTIVES = {"classify": classification_loss, "face_map": face_map_loss}


def train_step(state: TrainState, batch: dict, axis_name: Optional[str] = None):
  """One SGD step on a batch of uint8 images; returns the new state and {'loss'}, the loss being
  `state.objective`'s (OBJECTIVES).

  Dropout keys come from (run key, step) and, under pmap, the device index, so a resumed run
  draws the same masks as an uninterrupted one.
  """
  key = jax.random.fold_in(jax.random.wrap_key_data(state.dropout_key), state.step)
  if axis_name is not None:
    key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))
  images = net_lib.normalize_pixels(batch["image"])

  def loss_fn(params):
    logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                     train=True, rngs={"dropout": key}, mutable=["batch_stats"])
    return OBJECTIVES[state.objective](logits, batch, state.distill), updates

  (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  if axis_name is not None:
    grads = jax.lax.pmean(grads, axis_name)
    loss = jax.lax.pmean(loss, axis_name)
  state = state.apply_gradients(grads=grads, batch_stats=updates.get("batch_stats", {}))
  return state, {"loss": loss}


def replicate(tree, n_devices: int):
  """A leading device axis on every array, as `pmap` expects (jax.device_put_replicated is gone)."""
  return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (n_devices, *jnp.shape(x))), tree)


def unreplicate(tree):
  return jax.tree_util.tree_map(lambda x: x[0], tree)


def stack(states):
  """K train states (same spec and recipe) -> one state with a leading model axis, for vmap."""
  return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)


jit_train_step = jax.jit(train_step, donate_argnums=0)
# K models (e.g. seeds of one candidate) in one step, each on its own batch: (K, B, ...) inputs.
vmap_train_step = jax.jit(jax.vmap(train_step), donate_argnums=0)
pmap_train_step = jax.pmap(functools.partial(train_step, axis_name="batch"), axis_name="batch",
                           donate_argnums=0)
