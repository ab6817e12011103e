"""GANModule: the LightningModule that trains a generator and a discriminator by manual optimization."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from ganbench.ema import EMAGenerator
from ganbench.errors import DivergedError

LossFn = Callable[..., Tensor]


def pack_samples(x: Tensor, pack: int) -> Tensor:
    """PacGAN packing: ``(N, C, ...)`` -> ``(N / pack, pack * C, ...)``, joining consecutive samples.

    Images are joined along channels and points along features, so the
    discriminator judges ``pack`` samples of one kind as one input.
    """
    if pack == 1:
        return x
    if x.shape[0] % pack:
        raise ValueError(f"batch of {x.shape[0]} samples cannot be packed in groups of pack={pack}")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])


def grad_norm(parameters) -> float:
    """Return the global L2 norm of the gradients of ``parameters`` (0.0 when none has a gradient)."""
    norms = [p.grad.detach().float().norm(2) for p in parameters if p.grad is not None]
    return float(torch.stack(norms).norm(2)) if norms else 0.0


class GANModule(L.LightningModule):
    """Adversarial training loop with the stabilisation tricks as settings.

    Step unit: one ``training_step`` consumes one real batch and makes one
    discriminator update. After every ``n_critic``-th discriminator update the
    generator makes ``g_steps`` updates. Lightning's ``global_step`` counts the
    optimizer steps of both networks, so the module keeps its own counters
    ``d_updates`` and ``g_updates`` (logged as ``train/d_updates`` and
    ``train/g_updates``, saved in checkpoints).

    Args:
        generator: maps ``z (N, latent_dim)`` (and labels ``(N,)`` when
            conditional) to samples in [-1, 1].
        discriminator: maps samples (packed when ``pack > 1``) to logits ``(N,)``.
        d_loss, g_loss: loss functions from :mod:`ganbench.losses`.
        g_optimizer, d_optimizer: optimizer factories taking parameters.
        penalty: function from :mod:`ganbench.penalties` or ``None``.
        penalty_weight: factor on the penalty (gamma for R1/R2, lambda for GP).
        g_needs_real: the generator loss also needs logits of the real batch.
        n_critic: discriminator updates per generator phase.
        g_steps: generator updates per generator phase.
        label_smoothing: one-sided target for real samples (1.0 = off).
        ema_decay: decay of an EMA copy of the generator, ``None`` = off.
        unroll_steps: when > 0, the generator loss uses a copy of D advanced
            this many steps on the current batch (unrolled GAN).
        pack: PacGAN packing degree (1 = off).
        num_classes: > 0 for conditional models; generated labels are uniform.
        max_g_updates: stop training after this many generator updates.
        num_fixed: size of the fixed noise batch used for sample grids.
        seed: seed of the fixed noise batch.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        d_loss: LossFn,
        g_loss: LossFn,
        g_optimizer: Callable[..., torch.optim.Optimizer],
        d_optimizer: Callable[..., torch.optim.Optimizer],
        penalty: LossFn | None = None,
        penalty_weight: float = 0.0,
        g_needs_real: bool = False,
        n_critic: int = 1,
        g_steps: int = 1,
        label_smoothing: float = 1.0,
        ema_decay: float | None = None,
        unroll_steps: int = 0,
        pack: int = 1,
        num_classes: int = 0,
        max_g_updates: int | None = None,
        num_fixed: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.ema = EMAGenerator(generator, ema_decay) if ema_decay is not None else None
        self.d_loss_fn = d_loss
        self.g_loss_fn = g_loss
        self.penalty_fn = penalty
        self.penalty_weight = float(penalty_weight)
        self.g_needs_real = g_needs_real
        self.g_optimizer_factory = g_optimizer
        self.d_optimizer_factory = d_optimizer
        self.n_critic = n_critic
        self.g_steps = g_steps
        self.label_smoothing = label_smoothing
        self.unroll_steps = unroll_steps
        self.pack = pack
        self.num_classes = num_classes
        self.max_g_updates = max_g_updates
        self.latent_dim = generator.latent_dim
        self.d_updates = 0
        self.g_updates = 0
        noise = torch.Generator().manual_seed(seed)
        self.register_buffer("fixed_z", torch.randn(num_fixed, self.latent_dim, generator=noise))
        fixed_labels = torch.arange(num_fixed) % num_classes if num_classes > 0 else torch.zeros(0, dtype=torch.long)
        self.register_buffer("fixed_labels", fixed_labels)

    # Sampling.
    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def sample_generator(self) -> nn.Module:
        """Return the network used for samples and metrics: the EMA copy when there is one."""
        return self.ema.module if self.ema is not None else self.generator

    def sample_latents(self, n: int) -> tuple[Tensor, Tensor | None]:
        z = torch.randn(n, self.latent_dim, device=self.device)
        labels = torch.randint(0, self.num_classes, (n,), device=self.device) if self.conditional else None
        return z, labels

    @torch.no_grad()
    def generate(self, z: Tensor, labels: Tensor | None = None, batch_size: int = 500) -> Tensor:
        """Return samples for ``z`` from the sampling generator in eval mode, in batches.

        Eval mode makes BatchNorm use its running statistics, so a sample does
        not depend on the rest of its batch and sampling never updates the
        statistics. The training flag is restored afterwards.
        """
        network = self.sample_generator()
        was_training = network.training
        network.eval()
        try:
            chunks = []
            for start in range(0, z.shape[0], batch_size):
                chunk_labels = labels[start : start + batch_size] if labels is not None else None
                chunks.append(network(z[start : start + batch_size].to(self.device), chunk_labels))
            return torch.cat(chunks)
        finally:
            network.train(was_training)

    def fixed_samples(self) -> Tensor:
        return self.generate(self.fixed_z, self.fixed_labels if self.conditional else None)

    # Optimizers.
    def configure_optimizers(self):
        g_opt = self.g_optimizer_factory(self.generator.parameters())
        d_opt = self.d_optimizer_factory(self.discriminator.parameters())
        return [g_opt, d_opt]

    # Training.
    def _critic(self, network: nn.Module, labels: Tensor | None) -> Callable[[Tensor], Tensor]:
        """Return x -> logits for already packed inputs, with the labels (None when unconditional) bound."""
        return partial(network, labels=labels)

    def _check_finite(self, name: str, value: Tensor) -> None:
        if not torch.isfinite(value).all():
            raise DivergedError(
                f"{name} became {value.item()} at discriminator update {self.d_updates} "
                f"(generator update {self.g_updates}); lower the learning rates or add a penalty"
            )

    def discriminator_loss(
        self, discriminator: nn.Module, real: Tensor, real_labels: Tensor | None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Compute the discriminator loss (adversarial + weighted penalty) on ``real`` and fresh fakes."""
        z, fake_labels = self.sample_latents(real.shape[0])
        with torch.no_grad():
            fake = self.generator(z, fake_labels)
        real_in, fake_in = pack_samples(real, self.pack), pack_samples(fake, self.pack)
        real_logits = discriminator(real_in, real_labels)
        fake_logits = discriminator(fake_in, fake_labels)
        adversarial = self.d_loss_fn(real_logits, fake_logits, real_target=self.label_smoothing)

        penalty = torch.zeros((), device=real.device)
        if self.penalty_fn is not None and self.penalty_weight > 0:
            penalty = self.penalty_fn(self._critic(discriminator, real_labels), real_in, fake_in)
        total = adversarial + self.penalty_weight * penalty
        stats = {
            "d_loss": adversarial.detach(),
            "penalty": penalty.detach(),
            "d_real": real_logits.detach().float().mean(),
            "d_fake": fake_logits.detach().float().mean(),
        }
        return total, stats

    def unrolled_discriminator(self, real: Tensor, real_labels: Tensor | None) -> nn.Module:
        """Return a copy of D advanced ``unroll_steps`` updates on ``real``; the real D is untouched.

        The copy gets its own optimizer of the same class, hyperparameters and
        state (Adam moments), so its first steps continue where D's optimizer
        is. NOTE: the generator gradient is first order: it flows through the
        copy's final weights, not back through the unrolled updates as in
        Metz et al. (2017), which keeps memory at one extra D.
        """
        d_opt = self.optimizers()[1].optimizer
        shadow = copy.deepcopy(self.discriminator).requires_grad_(True)
        shadow_opt = type(d_opt)(shadow.parameters(), **d_opt.defaults)
        shadow_opt.load_state_dict(copy.deepcopy(d_opt.state_dict()))
        for _ in range(self.unroll_steps):
            loss, _ = self.discriminator_loss(shadow, real, real_labels)
            shadow_opt.zero_grad(set_to_none=True)
            loss.backward()
            shadow_opt.step()
        return shadow.requires_grad_(False)

    def generator_loss(self, discriminator: nn.Module, real: Tensor, real_labels: Tensor | None) -> Tensor:
        z, fake_labels = self.sample_latents(real.shape[0])
        fake = self.generator(z, fake_labels)
        fake_in = pack_samples(fake, self.pack)
        fake_logits = discriminator(fake_in, fake_labels)
        real_logits = None
        if self.g_needs_real:
            real_logits = discriminator(pack_samples(real, self.pack), real_labels)
        return self.g_loss_fn(fake_logits, real_logits)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        real, labels = batch
        real_labels = labels if self.conditional else None
        g_opt, d_opt = self.optimizers()

        # Discriminator update: one per real batch.
        self.toggle_optimizer(d_opt)
        d_total, stats = self.discriminator_loss(self.discriminator, real, real_labels)
        self._check_finite("train/d_loss", d_total)
        d_opt.zero_grad(set_to_none=True)
        self.manual_backward(d_total)
        d_grad_norm = grad_norm(self.discriminator.parameters())
        d_opt.step()
        self.untoggle_optimizer(d_opt)
        self.d_updates += 1
        logs = {f"train/{key}": value for key, value in stats.items()}
        logs["train/d_grad_norm"] = d_grad_norm

        # Generator phase: g_steps updates after every n_critic-th discriminator update.
        if self.d_updates % self.n_critic == 0:
            for _ in range(self.g_steps):
                critic = self.unrolled_discriminator(real, real_labels) if self.unroll_steps > 0 else self.discriminator
                self.toggle_optimizer(g_opt)
                g_loss = self.generator_loss(critic, real, real_labels)
                self._check_finite("train/g_loss", g_loss)
                g_opt.zero_grad(set_to_none=True)
                self.manual_backward(g_loss)
                logs["train/g_grad_norm"] = grad_norm(self.generator.parameters())
                g_opt.step()
                self.untoggle_optimizer(g_opt)
                self.g_updates += 1

                # EMA of the generator weights.
                if self.ema is not None:
                    self.ema.update(self.generator)
            logs["train/g_loss"] = g_loss.detach()
            if self.max_g_updates is not None and self.g_updates >= self.max_g_updates:
                self.trainer.should_stop = True

        logs["train/d_updates"] = float(self.d_updates)
        logs["train/g_updates"] = float(self.g_updates)
        logs["train/d_lr"] = d_opt.param_groups[0]["lr"]
        logs["train/g_lr"] = g_opt.param_groups[0]["lr"]
        self.log_dict(logs, on_step=True, on_epoch=False, prog_bar=False, batch_size=real.shape[0])
        self.last_logs = {key: float(value) for key, value in logs.items()}
        self.log_dict(
            {"d_loss": stats["d_loss"], "g_upd": float(self.g_updates)}, prog_bar=True, logger=False, batch_size=real.shape[0]
        )

    def on_train_epoch_end(self) -> None:
        # Per-step rows are written every trainer.log_every_n_steps. This row
        # repeats the last step's values, so the counters are exact at every
        # epoch end and epochs shorter than that interval still record losses.
        last = dict(getattr(self, "last_logs", {}))
        last.update({"train/d_updates": float(self.d_updates), "train/g_updates": float(self.g_updates)})
        self.log_dict(last, on_step=False, on_epoch=True)

    # Checkpoints.
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ganbench_counters"] = {"d_updates": self.d_updates, "g_updates": self.g_updates}
        # The resolved run config and data shape let samplers rebuild the networks without Hydra.
        checkpoint["ganbench_config"] = getattr(self, "run_config", None)
        checkpoint["ganbench_data"] = getattr(self, "data_info", None)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("ganbench_counters", {})
        self.d_updates = int(counters.get("d_updates", 0))
        self.g_updates = int(counters.get("g_updates", 0))
