"""The mutant catalogue: deliberately wrong implementations of ``composed_transforms`` and the properties that must
reject them.

``MUTANTS[name] = Mutant(impl, killers, tier)``:

* ``impl``: the mutant, a function with the spec's signature whose one-line docstring states its bug; every mutant is
  also loadable as a SPEC, ``Mutant.spec`` (``pytest properties --impl tests/mutants/casting.py:seed_rounded``);
* ``killers``: the properties (names in ``properties.registry.PROPERTIES``, or ``"grid"``, or ``"boundary"``: the
  boundary set's every-run cases, or ``"transforms_boundary"``: the derivative boundary set's) each of which, on its own,
  must reject the mutant under the ``ci`` profile -- asserted by ``tests/test_mutants.py``. Other properties may kill
  it too: ``tests/mutation_table.py`` runs every property against every mutant and writes ``tests/mutation_table.md``;
* ``tier``: the tier of its declared killers: ``"core"`` for a bug the problem itself rules out, ``"strict"`` for a
  violation of ``composed``'s production contract only (other properties may still trip over it incidentally: a
  mutant that rewrites its input also corrupts the oracle comparison); ``"transforms"`` for a forward-correct
  implementation that is wrong under ``jax.jit``, ``jax.vmap`` or differentiation (:mod:`mutants.derivatives`,
  :mod:`mutants.transforms`; killed by transforms-tier properties only).

Most mutants share :mod:`mutants._base`, a correct jitted implementation with knobs for the bug (compiles in ~0.1 s,
runs in well under 1 ms), so the meta-tests are fast; ``mutants._base.correct`` is the control that must pass
everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

from mutants import activation, batch, casting, contract, derivatives, init, layers, precision, state, transforms
from mutants import derivative_edges, domain, forms

HERE = Path(__file__).resolve().parent


class Mutant(NamedTuple):
    impl: Callable
    killers: frozenset
    tier: str

    @property
    def bug(self) -> str:
        return (self.impl.__doc__ or "").strip()

    @property
    def spec(self) -> str:
        """A SPEC for ``pytest properties --impl`` (path relative to the repository root)."""
        module = self.impl.__module__.rpartition(".")[2]
        return f"tests/mutants/{module}.py:{self.impl.__name__}"


def _m(impl, killers, tier="core"):
    return impl.__name__, Mutant(impl, frozenset(killers.split()), tier)


MO = "matches_oracle "

MUTANTS: dict[str, Mutant] = dict(
    [
        # activation
        _m(activation.no_final_relu, MO + "nonnegative_and_finite"),
        _m(activation.relu_before_linear, MO + "nonnegative_and_finite"),
        _m(activation.leaky_relu, MO + "nonnegative_and_finite"),
        _m(activation.gelu, MO + "nonnegative_and_finite positive_homogeneity"),
        _m(activation.softplus, MO + "zero_input_gives_zero positive_homogeneity"),
        # layer order, count, sharing, structure
        _m(layers.reversed_layers, MO),
        _m(layers.one_layer_too_many, MO + "zero_layers_is_identity"),
        _m(layers.one_layer_too_few, MO),
        _m(layers.shared_first_layer, MO),
        _m(layers.wrong_from_depth_6, MO),
        _m(layers.unrolled_layers, "jaxpr_constant_in_depth", "strict"),
        _m(layers.rows_looped, "scan_body_is_batched_matmul", "strict"),
        # seed and count casting
        _m(casting.seed_rounded, "seed_truncates_toward_zero"),
        _m(casting.seed_floored, "seed_truncates_toward_zero"),
        _m(casting.float_seed_bits, MO + "seed_truncates_toward_zero"),
        _m(casting.layers_rounded, "layers_truncate_toward_zero"),
        _m(casting.layers_ceil, "layers_truncate_toward_zero"),
        _m(casting.features_rounded, "features_truncate_toward_zero"),
        _m(casting.seed_mod_2_31, MO),
        _m(casting.seed_abs, MO + "seed_semantics"),
        _m(casting.seed_ignored, MO + "seed_semantics"),
        _m(casting.seed_plus_one, MO),
        _m(casting.seed_clipped_int32, MO + "seed_semantics seeds_wrap_modulo_2_32"),
        _m(casting.seed_via_float, "seeds_wrap_modulo_2_32"),
        _m(casting.rejects_large_seed, "seed_semantics seeds_wrap_modulo_2_32"),
        # batch handling and flattening
        _m(batch.transposed_flatten, MO),
        _m(batch.batch_mean_subtracted, MO + "batch_locality"),
        _m(batch.rows_sorted, "batch_permutation_equivariance"),
        _m(batch.rows_mixed, MO + "batch_locality batch_permutation_equivariance"),
        _m(batch.per_row_params, MO + "batch_locality batch_permutation_equivariance"),
        _m(batch.fresh_key_per_chunk, MO),
        # precision and output dtype
        _m(precision.bfloat16_compute, MO),
        _m(precision.float16_compute, MO),
        _m(precision.relative_noise_1e3, MO),
        _m(precision.scale_error_1e3, MO),
        _m(precision.returns_float64, "float32_in_float32_out", "strict"),
        # state and nondeterminism
        _m(state.call_parity, "deterministic"),
        _m(state.after_first_call, MO),
        _m(state.cache_ignores_seed, "seed_semantics"),
        _m(state.cache_ignores_values, "positive_homogeneity batch_permutation_equivariance"),
        _m(state.np_random_noise, "deterministic"),
        # parameter initialisation
        _m(init.nonzero_bias, MO + "zero_input_gives_zero positive_homogeneity"),
        _m(init.normal_kernel_init, MO),
        _m(init.glorot_kernel_init, MO),
        _m(init.kernel_transposed, MO),
        # the result's form and the argument contract
        _m(contract.unflattened, MO + "output_shape"),
        _m(contract.returns_list, "output_shape"),
        _m(contract.accepts_3d_input, "rejects_every_violation", "strict"),
        _m(contract.negative_layers_identity, "rejects_every_violation", "strict"),
        _m(contract.no_validation, "rejects_invalid_arguments rejects_every_violation", "strict"),
        _m(contract.mutates_input, "input_not_mutated", "strict"),
        _m(contract.empty_batch_error, "empty_batch", "strict"),
        _m(contract.nan_zeroed, "nonfinite_rows_stay_in_their_row", "strict"),
        _m(contract.always_float32, "dtypes", "strict"),
        _m(contract.first_shard_only, "sharded_batch", "strict"),
        # --- transforms tier (issue 11): forward-correct, wrong derivatives with respect to x_batch -------------------
        _m(derivatives.vjp_no_relu_mask, "vjp_matches_oracle jvp_matches_oracle", "transforms"),
        _m(derivatives.vjp_scaled, "vjp_matches_oracle jvp_matches_oracle", "transforms"),
        _m(derivatives.vjp_untransposed_kernel, "vjp_matches_oracle jvp_matches_oracle", "transforms"),
        _m(derivatives.input_stop_gradient, "vjp_matches_oracle jvp_matches_oracle", "transforms"),
        _m(derivatives.custom_jvp_disagrees_with_vjp, "vjp_matches_oracle jvp_matches_oracle", "transforms"),
        _m(derivatives.custom_jvp_not_transposable,
           "vjp_matches_oracle grad_matches_vjp jit_grad_matches_grad vmap_grad_matches_grad", "transforms"),
        # --- transforms tier: forward-correct, broken or changed under jax.jit / jax.vmap -----------------------------
        _m(transforms.python_branch_on_values, "jit_matches_eager vmap_matches_stacked_calls vjp_matches_oracle "
           "jvp_matches_oracle grad_matches_vjp jit_grad_matches_grad vmap_grad_matches_grad", "transforms"),
        _m(transforms.numpy_inplace, "jit_matches_eager vmap_matches_stacked_calls vjp_matches_oracle "
           "jvp_matches_oracle grad_matches_vjp jit_grad_matches_grad vmap_grad_matches_grad", "transforms"),
        _m(transforms.vmap_breaks, "vmap_matches_stacked_calls", "transforms"),
        _m(transforms.vmap_mixes_batches, "vmap_matches_stacked_calls", "transforms"),
        _m(transforms.jit_changes_result, "jit_matches_eager", "transforms"),
        _m(transforms.jit_grad_changes_result, "jit_grad_matches_grad", "transforms"),
        _m(transforms.vmap_grad_mixes_batches, "vmap_grad_matches_grad", "transforms"),
        # --- input forms (issue 8, item 3): right on C-contiguous float32 arrays, wrong in another form -----------------
        _m(forms.c_contiguous_only, "input_forms"),
        _m(forms.misreads_negative_strides, "input_forms"),
        _m(forms.fortran_transposed, "input_forms"),
        _m(forms.rejects_numpy_counts, "input_forms"),
        _m(forms.rejects_array_likes, "array_like_inputs", "strict"),
        # --- the strict contract's corners and the degenerate shape (issue 15, items 4-6) ---------------------------
        _m(contract.accepts_bool_counts, "rejects_invalid_arguments rejects_every_violation", "strict"),
        _m(contract.scratch_in_strided_input, "input_not_mutated", "strict"),
        _m(contract.scratch_in_view_padding, "input_not_mutated", "strict"),
        _m(forms.misreads_byte_order, "array_like_inputs", "strict"),
        _m(contract.squeezed, "output_shape"),
        # --- the domain's edges (issue 8): right in the small corner, wrong at large sizes, depths or magnitudes --------
        _m(domain.batch_tail_lost, "boundary"),
        _m(domain.batch_tail_misread, "boundary"),
        _m(domain.contraction_tail_dropped, "boundary"),
        _m(domain.depth_capped_at_64, "boundary"),
        _m(domain.clips_at_float16_max, "boundary matches_oracle"),
        _m(domain.float16_when_large, "boundary matches_oracle"),
        _m(domain.flushes_tiny_inputs, "boundary matches_oracle"),
        _m(domain.flushes_tiny_activations, "boundary"),
        # --- derivatives at the edges (issue 15): right in the tier's small shapes, wrong past a tile, chunk, depth ----
        _m(derivative_edges.vjp_drops_partial_tile, "transforms_boundary", "transforms"),
        _m(derivative_edges.vjp_mask_stops_past_64, "transforms_boundary", "transforms"),
        _m(derivative_edges.vjp_row_chunk_tail_lost, "transforms_boundary", "transforms"),
        _m(derivative_edges.jvp_wide_layer_tile_dropped, "transforms_boundary", "transforms"),
        _m(derivative_edges.vmap_grad_wrong_past_8_stacked, "transforms_boundary", "transforms"),
    ]
)

__all__ = ["MUTANTS", "Mutant", "HERE"]
