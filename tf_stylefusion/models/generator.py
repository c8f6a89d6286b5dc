"""StyleFusionGenerator: content image + style weights → stylized image.

Encoder (3 conditioned convs) → optionally a coarse stage (down to 1/8, residual blocks there,
back up and added) → residual blocks at 1/4 size → decoder (2 convs, a nearest ×2 resize before
or after each) → RGB. With ``pixel_shuffle`` (the default) the network starts and
ends at half resolution: the image enters as space-to-depth blocks (2×2 pixels → 12 channels,
nothing lost) and leaves through depth-to-space, so no convolution or norm touches a
full-resolution tensor (2.4× faster in TFLite at 1024² than the full-resolution layout).
Every normalisation is a ConditionalInstanceNorm reading γ, β from one StyleBank, so any convex
mix of the bank's styles (per image or per pixel) is a valid style. With ``flat_guard`` the
network's residual is faded where the photo is flat (``flat_gate``), so skies stay unpainted.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Callable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from ..config import GeneratorConfig, GeneratorSettings
from ..errors import StyleWeightsError
from .color_stats import LUMA
from .layers import (
    PACKAGE,
    ConditionalInstanceNorm,
    ConvNormAct,
    ConvUpsample,
    ReflectionPad2D,
    ResidualBlock,
    Style,
    StyleColor,
    UpsampleConv,
    reflect_pad,
    reflect_pad_to_multiple,
    with_static_channels,
)
from .texture import TEXTURE_GUARD, kuwahara_luma, texture_field

MIN_SIZE = 32
STRIDE = 4  # total downsampling: inputs are padded to a multiple of this and cropped back
COARSE_STRIDE = 8  # the same with a coarse stage (generator.stride says which applies)
SHUFFLE = 2  # space-to-depth block size of the pixel_shuffle layout


@keras.saving.register_keras_serializable(package=PACKAGE)
class StyleBank(keras.layers.Layer):
    """The ``[num_styles, param_dim]`` table of every style's CIN parameters."""

    def __init__(self, num_styles: int, init_row: Sequence[float], **kwargs: Any):
        super().__init__(**kwargs)
        self.num_styles = int(num_styles)
        self.init_row = [float(v) for v in init_row]

    def build(self, input_shape: Any = None) -> None:
        row = np.asarray(self.init_row, np.float32)
        self.table = self.add_weight(
            name="table",
            shape=(self.num_styles, row.size),
            initializer=keras.initializers.Constant(np.tile(row, (self.num_styles, 1))),
        )
        self.built = True

    def call(self, inputs: Any = None) -> tf.Tensor:
        return tf.convert_to_tensor(self.table)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_styles": self.num_styles, "init_row": self.init_row}


SKIP_EPS = 1.0 / 64
FLAT_WINDOW = 5  # the flat guard's window, in quarter-size pixels (20 photo pixels)
COLOR_NORM_EPSILON = 1e-3
# The colour norm's identity-like start: an average photo's RGB spread and mean.
COLOR_NORM_INIT = ((0.25, 0.25, 0.25), (0.45, 0.45, 0.45))


class _TextureSlot:
    """The generator's texture tiles, out of Keras' weight tracking. Data beside the model (like
    its weights), not a setting: how they are laid is ``config.texture`` and ``config.abstraction``."""

    def __init__(self) -> None:
        self.tiles: tf.Tensor | None = None


def _normalised(weights: tf.Tensor) -> tf.Tensor:
    """Style weights as float32 summing to 1 (Keras autocasts inputs under mixed precision):
    every entry point (Python, SavedModel, TFLite) obeys the same contract."""
    weights = tf.cast(weights, tf.float32)
    return weights / tf.maximum(tf.reduce_sum(weights, axis=-1, keepdims=True), 1e-8)


def content_logits(x: tf.Tensor) -> tf.Tensor:
    """logit(x) of images in [0, 1], clipped to [1/64, 63/64] (±4.1) so black and white stay
    finite and the residual can still move them."""
    # The clip as 1/64 + relu(x - 1/64) - relu(x - 63/64), not clip_by_value: TFLite's integer
    # MINIMUM and MAXIMUM share their input's scale, which pinned an int8 file's image input (and
    # so every pixel the network sees) to [0, 63/64].
    x = SKIP_EPS + tf.nn.relu(x - SKIP_EPS) - tf.nn.relu(x - (1.0 - SKIP_EPS))
    return tf.math.log(x) - tf.math.log(1.0 - x)


def flat_gate(content: tf.Tensor, threshold: float) -> tf.Tensor:
    """``[B, H/4, W/4, 1]`` in [0, 1]: the photo's local mean absolute luma deviation (a
    ``FLAT_WINDOW`` box at quarter size, the border mirrored) over ``threshold``, capped at 1.
    0 where the photo is flat.

    H and W must be multiples of 4. Mean absolute deviation, not variance: a difference of squares
    has no resolution in 8 bits at the few-percent spreads that tell a sky from a texture.
    Convolutions with constant kernels, not average pools: TFLite runs an integer AVERAGE_POOL_2D
    as a slow reference kernel (the pools took 9 ms of the pack's int8 file at 1024², these 1 ms).
    """
    dtype = content.dtype
    width = FLAT_WINDOW

    def box(t: tf.Tensor) -> tf.Tensor:
        t = reflect_pad(t, width // 2)
        t = tf.nn.conv2d(t, tf.fill([width, 1, 1, 1], tf.constant(1.0 / width, dtype)), 1, "VALID")
        return tf.nn.conv2d(t, tf.fill([1, width, 1, 1], tf.constant(1.0 / width, dtype)), 1, "VALID")

    # The luma of each 4×4 block's mean in one strided convolution.
    block_luma = np.tile(np.asarray(LUMA, np.float32)[None, None, :, None] / 16.0, (4, 4, 1, 1))
    luma = tf.nn.conv2d(content, tf.constant(block_luma, dtype), 4, "VALID")
    spread = box(tf.abs(luma - box(luma))) * (1.0 / threshold)
    # min(spread, 1) from relus: TFLite's integer MINIMUM would share its input's scale.
    return spread - tf.nn.relu(spread - 1.0)


def _tiled_weight(textures: tf.Tensor, weights: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """How much of ``weights`` (``[B, K]`` or ``[B, H, W, K]``) falls on rows whose tile is not
    blank, shaped to broadcast over ``[B, H, W, C]``."""
    has_tile = tf.cast(tf.reduce_max(tf.abs(textures), axis=[1, 2, 3]) > 0, dtype)
    share = tf.reduce_sum(tf.cast(weights, dtype) * has_tile, axis=-1, keepdims=True)
    return share if weights.shape.rank == 4 else share[:, :, None, None]


@keras.saving.register_keras_serializable(package=PACKAGE)
class StyleFusionGenerator(keras.Model):
    """Feed-forward multi-style stylizer.

    Call with ``(content, style_weights)``: content ``[B, H, W, 3]`` float in [0, 1] with
    H, W ≥ 32; weights ``[B, N]`` or ``[B, H, W, N]``, non-negative (normalised to sum 1 here).
    Returns the stylized ``[B, H, W, 3]`` float32 in [0, 1].
    """

    def __init__(self, num_styles: int = 1, style_names: Sequence[str] | None = None,
                 filters: Sequence[int] = (16, 32, 64), num_res_blocks: int = 4, coarse_blocks: int = 0,
                 flat_guard: float = 0.0, texture: float = 1.0, abstraction: float = 1.0, separable: bool = True,
                 pixel_shuffle: bool = True, content_skip: bool = True, norm_epsilon: float = 0.1,
                 color_map: bool = False, color_norm: bool = False, color_mix: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.config = GeneratorConfig(num_styles=num_styles, style_names=list(style_names or []),
                                      filters=tuple(filters), num_res_blocks=num_res_blocks,
                                      coarse_blocks=int(coarse_blocks), flat_guard=float(flat_guard),
                                      texture=float(texture), abstraction=float(abstraction),
                                      separable=separable, pixel_shuffle=pixel_shuffle,
                                      content_skip=content_skip, norm_epsilon=norm_epsilon,
                                      color_map=color_map, color_norm=bool(color_norm),
                                      color_mix=bool(color_mix))
        f1, f2, f3 = self.config.filters
        offset = 0

        def add(layer: keras.layers.Layer) -> keras.layers.Layer:
            nonlocal offset
            offset += layer.param_size
            return layer

        # Lists (not tuples): Keras 3 tracks layers held in lists, tuples silently drop weights.
        # The shuffled layout starts at half resolution, so its third conv keeps the size and its
        # last decoder block does not upsample: both layouts compute the residuals at 1/4.
        self.shuffle = SHUFFLE if pixel_shuffle else 1
        self.color_norm = (add(ConditionalInstanceNorm(3, offset, name="color_norm")) if self.config.color_norm
                           else None)
        self.color_mix = add(StyleColor(offset, name="color_mix")) if self.config.color_mix else None
        self.encoder = [
            add(ConvNormAct(f1, offset, name="enc1")),
            add(ConvNormAct(f2, offset, strides=2, name="enc2")),
            add(ConvNormAct(f3, offset, strides=3 - self.shuffle, name="enc3")),
        ]
        # The coarse stage: down to 1/8 with twice the channels, its blocks, back up to 1/4.
        self.coarse = []
        if self.config.coarse_blocks:
            self.coarse = ([add(ConvNormAct(2 * f3, offset, strides=2, separable=separable, name="enc4"))]
                           + [add(ResidualBlock(2 * f3, offset, separable, name=f"coarse{i + 1}"))
                              for i in range(self.config.coarse_blocks)]
                           + [add(ConvUpsample(f3, offset, separable=separable, name="dec0"))])
        self.stride = COARSE_STRIDE if self.coarse else STRIDE
        self.residuals = [add(ResidualBlock(f3, offset, separable, name=f"res{i + 1}"))
                          for i in range(num_res_blocks)]
        if self.shuffle == 1:
            self.decoder = [add(UpsampleConv(f2, offset, separable, name="dec1")),
                            add(UpsampleConv(f1, offset, separable, name="dec2"))]
        else:
            self.decoder = [add(ConvUpsample(f2, offset, separable=separable, name="dec1")),
                            add(ConvNormAct(f1, offset, separable=separable, name="dec2"))]
        self.out_pad = ReflectionPad2D(1)
        # In the shuffled layout to_rgb predicts each 2×2 output block as 12 channels.
        # With the content skip, in the shuffled layout, the residual is predicted as 3 channels
        # at half size and upsampled bilinearly: detail comes through the skip, and a
        # depth-to-space residual would leave a 2×2 grid over flat regions.
        out_channels = 3 if content_skip else 3 * self.shuffle ** 2
        self.out_conv = keras.layers.Conv2D(out_channels, 3, padding="valid", name="to_rgb")
        for norm in self._norm_layers():
            norm.epsilon = float(norm_epsilon)
        if self.color_norm is not None:
            # A photo's colour variance is ~0.05: ε = 0.1 would flatten every photo's contrast.
            self.color_norm.epsilon = COLOR_NORM_EPSILON
            # Its output is the photo in the style's palette: noise-tolerance training perturbs
            # the network after it, not the photo the content skip passes through.
            self.color_norm.output_noise = False
        self.color = add(StyleColor(offset, name="style_color")) if content_skip and color_map else None
        self.param_dim = offset
        self.bank = StyleBank(num_styles, self._identity_row(), name="style_bank")
        # Not a Keras weight: the tiles live beside generator.keras (model_io), the file keeps its size.
        self._texture = _TextureSlot()
        self.build()

    # What a config saved before a field existed meant by its absence: files from before the
    # pixel-shuffle layout (or the content skip, ...) hold models without them, and files from
    # before the texture and abstraction were config fields laid the tiles at full strength over a
    # fully abstracted picture (the values the generator then held outside its config).
    SAVED_BEFORE = {"pixel_shuffle": False, "content_skip": False, "norm_epsilon": 1e-5, "color_map": False,
                    "color_norm": False, "color_mix": False, "texture": 1.0, "abstraction": 1.0}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "StyleFusionGenerator":
        return cls(**{**cls.SAVED_BEFORE, **config})

    @classmethod
    def from_config_object(cls, config: GeneratorConfig) -> "StyleFusionGenerator":
        return cls(**{**dataclasses.asdict(config), "color_norm": bool(config.color_norm),
                      "color_mix": bool(config.color_mix)})

    @contextlib.contextmanager
    def norm_statistics(self, hook: Callable[[int, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
                        ) -> Iterator[None]:
        """Within this block, the i-th normalisation layer (in forward order) takes its
        ``(mean, var)`` from ``hook(i, x, weights)`` instead of from ``x`` (the shapes
        ``ConditionalInstanceNorm.moments(x, weights)`` gives: ``[B|1, 1, 1, C]``, or per style
        region ``[B|1, K, C]`` with per-pixel weights).

        Used by tiling: record the statistics of a whole image once, then stylize each tile with
        them. Outside the block (every normal call) the generator is unchanged.
        """
        norms = self._norm_layers()
        for i, norm in enumerate(norms):
            norm.statistics_hook = lambda x, w, i=i: hook(i, x, w)
        try:
            yield
        finally:
            for norm in norms:
                norm.statistics_hook = None

    def copy(self, settings: GeneratorSettings | None = None) -> "StyleFusionGenerator":
        """A new generator with the same configuration, weights and textures (edits to it leave
        this one), with ``settings`` replacing the configuration's settings where they are set
        (none has weights: any value fits them)."""
        config = {**self.get_config(), **(settings.overrides() if settings else {})}
        twin = StyleFusionGenerator.from_config(config)
        twin.set_weights(self.get_weights())
        twin.set_textures(self.textures)
        return twin

    def with_settings(self, settings: GeneratorSettings | None) -> "StyleFusionGenerator":
        """This generator if ``settings`` changes none of its own, else a copy with them."""
        changed = {k: v for k, v in (settings.overrides() if settings else {}).items()
                   if getattr(self.config, k) != v}
        return self.copy(GeneratorSettings(**changed)) if changed else self

    @property
    def textures(self) -> tf.Tensor | None:
        """``[N, S, S, 3]``: each style's brushwork tile (models/texture.py), or None."""
        return self._texture.tiles

    def set_textures(self, textures: np.ndarray | tf.Tensor | None) -> None:
        """Attach one texture tile per style (``[N, S, S, 3]``, models/texture.py); None removes them."""
        if textures is None:
            self._texture.tiles = None
            return
        t = tf.convert_to_tensor(textures, tf.float32)
        if t.shape.rank != 4 or t.shape[0] != self.num_styles or t.shape[1] != t.shape[2] or t.shape[3] != 3:
            raise ValueError(f"textures must be [{self.num_styles}, S, S, 3] (one tile per style), "
                             f"got {list(t.shape)}")
        self._texture.tiles = t

    def table_textures(self, rows: int | tf.Tensor, extra: np.ndarray | tf.Tensor | None = None
                       ) -> tf.Tensor | None:
        """Tiles for a style table of ``rows`` rows (a tensor in a traced signature, where the
        count is only known at run time): the bank's, then ``extra`` ``[M, S, S, 3]`` for the rows
        after it (style images), blank for the rest (a photo's own row). None without tiles."""
        own = self._texture.tiles
        if own is None:
            return None
        parts = [own] if extra is None else [own, tf.convert_to_tensor(extra, tf.float32)]
        done = sum(int(t.shape[0]) for t in parts)
        if isinstance(rows, int) and done > rows:
            raise StyleWeightsError(f"{done} texture tiles for a table of {rows} styles")
        if isinstance(rows, int) and done == rows:
            return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)
        blank = tf.zeros(tf.concat([[rows - done], tf.shape(own)[1:]], axis=0))
        return tf.concat(parts + [blank], axis=0)

    def _textures_for(self, table: tf.Tensor, textures: tf.Tensor | None) -> tf.Tensor | None:
        """Tiles for ``table``'s rows: ``textures`` as given, else ``table_textures``."""
        if textures is not None:
            return tf.convert_to_tensor(textures, tf.float32)
        rows = table.shape[-2]
        return self.table_textures(int(rows) if rows is not None else tf.shape(table)[-2])

    @property
    def num_norm_layers(self) -> int:
        return len(self._norm_layers())

    def _norm_layers(self) -> list[Any]:
        colour = [self.color_norm] if self.color_norm is not None else []
        return colour + [n for block in self.encoder + self.coarse + self.residuals + self.decoder
                         for n in block.norms]

    def _identity_row(self) -> np.ndarray:
        """γ = 1, β = 0 for every norm layer: the untrained bank starts as plain instance norm."""
        row = np.zeros(self.param_dim, np.float32)
        for norm in self._norm_layers():
            row[norm.offset : norm.offset + norm.channels] = 1.0
        if self.color_norm is not None:  # an average photo's spread and mean: close to identity
            row[self.color_norm.offset : self.color_norm.offset + self.color_norm.param_size] = np.ravel(COLOR_NORM_INIT)
        for colour_map in (self.color, self.color_mix):
            if colour_map is not None:
                row[colour_map.offset : colour_map.offset + StyleColor.param_size] = StyleColor.IDENTITY
        return row

    def build(self, input_shape: Any = None) -> None:
        if self.built:
            return
        self.bank.build()
        n = self.config.num_styles
        # Run once on a tiny input so every sublayer creates its weights now: a freshly
        # constructed (or .keras-loaded) generator is complete before any real call.
        with tf.init_scope():
            self._forward(tf.zeros([1, MIN_SIZE, MIN_SIZE, 3]), tf.fill([1, n], 1.0 / n),
                          tf.convert_to_tensor(self.bank.table))
        self.built = True

    @property
    def style_names(self) -> list[str]:
        return list(self.config.style_names)

    @property
    def num_styles(self) -> int:
        return self.config.num_styles

    def call(self, inputs: Any, training: bool | None = None) -> tf.Tensor:
        content, weights = self._unpack(inputs)
        return self.stylize_with_table(content, weights, self.bank(None))

    def stylize_with_table(self, content: tf.Tensor, weights: tf.Tensor, table: tf.Tensor,
                           textures: tf.Tensor | None = None, origin: tuple[int, int] = (0, 0),
                           texture_amount: tf.Tensor | float | None = None) -> tf.Tensor:
        """Stylize with an explicit style table (``[K, D]`` or ``[B, K, D]``) instead of the bank.

        Used for arbitrary style images (a predicted row), strength (a mix with the content's own
        row) and fine-tuning; ``weights`` mix the table's K rows. ``textures`` ``[K, S, S, 3]``
        are the rows' tiles (default: the bank's, blank past it); ``origin`` is where ``content``
        sits in a larger picture (tiled inference), so the tiles line up across pieces;
        ``texture_amount`` overrides ``config.texture`` for this call (a tensor: one trace for
        every value a slider takes; callers pass ``GeneratorSettings.texture`` through
        ``texture.amount_argument``).
        """
        return self._forward(tf.convert_to_tensor(content), _normalised(weights), table,
                             self._textures_for(table, textures), origin, texture_amount)

    def recoloured(self, content: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        """The photo after the style's colour norm and colour transform (``[B, K]`` weights over
        the bank): what the content skip passes on, before the residual network adds anything.
        The photo itself when the generator has no colour norm."""
        return self._recolour(tf.cast(content, self.compute_dtype), (_normalised(weights), self.bank(None)))

    def _recolour(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        if self.color_norm is not None:
            x = tf.cast(self.color_norm(x, style), x.dtype)
        if self.color_mix is not None:
            x = tf.cast(self.color_mix(x, style), x.dtype)
        return x

    def _forward(self, content: tf.Tensor, weights: tf.Tensor, table: tf.Tensor,
                 textures: tf.Tensor | None = None, origin: tuple[int, int] = (0, 0),
                 texture_amount: tf.Tensor | float | None = None) -> tf.Tensor:
        content = tf.cast(content, self.compute_dtype)
        h, w = tf.shape(content)[1], tf.shape(content)[2]
        x = with_static_channels(reflect_pad_to_multiple(content, self.stride), content.shape[-1])
        gate = flat_gate(x, self.config.flat_guard) if self.config.flat_guard else None
        amount = self.config.texture if texture_amount is None else texture_amount
        # A Python 0 leaves the tiles out of the graph (export --texture 0: the small files).
        if textures is not None and (isinstance(amount, tf.Tensor) or amount > 0):
            texture_gate = (gate if self.config.flat_guard == TEXTURE_GUARD
                            else flat_gate(tf.cast(x, tf.float32), TEXTURE_GUARD))
        else:
            textures = None
        if weights.shape.rank == 4:
            padding = [[0, 0], [0, (-h) % self.stride], [0, (-w) % self.stride], [0, 0]]
            weights = tf.pad(weights, padding, mode="SYMMETRIC")
        style: Style = (weights, table)
        x = self._recolour(x, style)
        padded = tf.cast(x, tf.float32)
        if self.shuffle > 1:
            x = tf.nn.space_to_depth(x, self.shuffle)
        for layer in self.encoder:
            x = layer(x, style)
        if self.coarse:
            coarse = x
            for layer in self.coarse:
                coarse = layer(coarse, style)
            x = x + coarse
        for layer in self.residuals + self.decoder:
            x = layer(x, style)
        y = tf.cast(self.out_conv(self.out_pad(x)), tf.float32)
        if self.config.content_skip:
            if gate is not None:
                y = y * tf.cast(tf.image.resize(gate, tf.shape(y)[1:3], method="bilinear"), y.dtype)
            if self.shuffle > 1:
                y = tf.image.resize(y, tf.shape(padded)[1:3], method="bilinear")
            logits = content_logits(padded)
            if self.color is not None:
                logits = self.color(logits, style)
            y = tf.sigmoid(y + logits)
        else:
            y = tf.sigmoid(y)
            if self.shuffle > 1:
                y = tf.nn.depth_to_space(y, self.shuffle)
        if textures is not None:
            size = tf.shape(y)[1:3]
            field = texture_field(textures, weights, size[0], size[1], origin)
            gate_full = tf.image.resize(tf.cast(texture_gate, y.dtype), size, method="bilinear")
            amount = tf.cast(amount, y.dtype)
            # The painting's strokes take the place of the photo's fine detail: abstract first
            # (fully from amount 1 up), then lay the tile; only as far as the weights fall on
            # rows with a tile (a photo's own row, for strength, has none and stays unabstracted).
            if self.config.abstraction > 0:
                abstract = (self.config.abstraction * tf.minimum(amount, 1.0) * gate_full
                            * _tiled_weight(textures, weights, y.dtype))
                y = y + abstract * (kuwahara_luma(y) - y)
            y = y + amount * gate_full * field
            # clip to [0, 1] with relus (TFLite's integer MINIMUM would share its input's scale)
            y = tf.nn.relu(y) - tf.nn.relu(y - 1.0)
        # tf.slice, not y[:, :h, :w]: TFLite runs a STRIDED_SLICE with computed bounds ~6× slower.
        return tf.slice(y, [0, 0, 0, 0], tf.stack([-1, h, w, -1]))

    @staticmethod
    def _unpack(inputs: Any) -> tuple[tf.Tensor, tf.Tensor]:
        if isinstance(inputs, dict):
            return inputs["content"], inputs["style_weights"]
        content, weights = inputs
        return content, weights

    def get_config(self) -> dict[str, Any]:
        # Every GeneratorConfig field, so a new setting is saved (and exported) with the model.
        base = super().get_config()
        return {**{k: v for k, v in base.items() if k in ("name", "trainable", "dtype")},
                **dataclasses.asdict(self.config), "filters": list(self.config.filters)}
