"""Mutation testing: how many one-line bugs in a module does the test suite catch?

Runs mutmut 3 (``pip install 'rnnkit[dev]'``) on one module at a time, each with its own
fast selection of tests (``MODULES`` below), and prints per module: killed, survived,
timeout, equivalent (listed in ``EQUIVALENT`` with a reason, excluded from the score) and the
score killed / (killed + survived). A mutant that no selected test reaches ("no tests") is
counted as survived: nothing would catch it. Survivors are listed with their diff.

Each module runs in its own scratch copy of the package and tests (``--workdir``), so the
working tree is never touched and the per-module settings (which file to mutate, which
tests to run) are written into the copy's ``[tool.mutmut]`` section on top of the
project's own. ``--minutes`` bounds each module's mutmut run; mutants not reached in time
are reported as "not checked". CPU-heavy: run it under ``nice`` on a shared machine.

    nice -n 10 python benchmarks/mutation.py                     # every module in MODULES
    nice -n 10 python benchmarks/mutation.py metrics events --minutes 5
    python benchmarks/mutation.py --list                         # the modules and their tests
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (-k matches substrings of test names: whole words here, so "eta" does not drop "detach")
_SLOW_TRAINING_TESTS = ("not test_resume_ and not test_progress_eta_ and not test_each_optimizer"
                        "_steps")
# module -> the pytest arguments that select its tests (kept fast: a few seconds in all).
MODULES: dict[str, list[str]] = {
    **{f"rnnkit/tasks/timeseries/{name}.py": [
        "tests/test_timeseries_metrics.py", "tests/test_intervals.py",
        "tests/test_oracle_timeseries.py",
        "-k", "not threshold_is_read"]  # (that one trains a detector: 100 s)
       for name in ("metrics", "events", "intervals", "calibration")},
    "rnnkit/models/beam.py": ["tests/test_beam.py",
                              "tests/test_models.py::test_beam_size_1_equals_greedy"],
    "rnnkit/training/tbptt.py": ["tests/test_tbptt.py", "tests/test_training.py",
                                 "tests/test_oracle_training.py",
                                 "-k", _SLOW_TRAINING_TESTS],
    "rnnkit/training/checkpoint.py": [  # (the hypothesis fuzz tests: minutes per mutant)
        "tests/test_checkpoint_safety.py", "tests/test_checkpoint_mutants.py",
        "tests/test_checkpoint_writer_mutants.py", "tests/test_checkpoint_build_mutants.py",
        "-k", "not fuzz",
        *(f"tests/test_training.py::test_{name}" for name in (
            "checkpoint_round_trips_model_optimizer_and_rng",
            "damaged_checkpoint_gives_a_clear_error",
            "checkpoint_swap_is_atomic_and_survives_a_crash_between_renames"))],
    "rnnkit/training/distributed.py": [
        "tests/test_distributed_mutants.py", "tests/test_oracle_distributed.py",
        "tests/test_trainer_mutants2.py::test_truncated_bptt_all_reduces_once_per_step"],
    "rnnkit/training/trainer.py": ["tests/test_trainer_units.py", "tests/test_trainer_mutants.py",
                                   "tests/test_trainer_mutants2.py",
                                   "tests/test_training.py",
                                   "tests/test_oracle_training.py",
                                   "-k", _SLOW_TRAINING_TESTS],
    "rnnkit/data/tables.py": [
        "tests/test_tables_mutants.py", "tests/test_sentiment_own_files.py",
        "tests/test_classify_own_data.py", "tests/test_classify.py::test_malformed_long_tables",
        "tests/test_classify.py::test_long_table_groups_by_id_and_orders_by_time",
        "tests/test_fuzz_readers.py::test_table_reader_gives_rows_or_a_data_error",
        "tests/test_series_formats.py::test_sniff_delimiter_prefers_the_comma",
        *(f"tests/test_text_classification.py::test_{name}" for name in (
            "separate_files_in_tsv_and_jsonl_read_to_exactly_the_rows",
            "malformed_tables_name_the_file_line_and_column", "non_utf8_and_unknown_formats",
            "a_label_only_the_test_part_has_is_an_error"))],
    "rnnkit/data/keywords.py": [  # (not the ones that read every clip's audio or train: 3.5 s)
        "tests/test_keywords_mutants.py", "tests/test_keyword_folders.py",
        "tests/test_hidden_files.py", "tests/test_speech_user_files.py",
        "-k", "not a_run_trains_on_what_is_left",
        *(f"tests/test_speech.py::test_{name}" for name in (
            "file_lists_name_the_validation_and_test_recordings",
            "speech_commands_names_split_by_speaker",
            "split_by_file_is_seeded_disjoint_and_complete",
            "malformed_keyword_folders_name_the_file"))],
    "rnnkit/data/manifests.py": [
        "tests/test_manifests_mutants.py", "tests/test_speech_user_files.py",
        "tests/test_speech_segments.py",
        *(f"tests/test_transcription.py::test_{name}" for name in (
            "a_manifest_reads_to_exactly_its_utterances", "a_malformed_line_is_an_error_naming_it",
            "unreadable_files_and_encodings", "unreadable_audio_and_durations_name_the_line"))],
    "rnnkit/tasks/speech_common.py": [
        "tests/test_speech_common_mutants.py", "tests/test_speech_user_files.py",
        "tests/test_speech_segments.py", "tests/test_ctc_spaces.py"],
    "rnnkit/tasks/transcription.py": [  # (not the trained run's tests: a training each)
        "tests/test_saved_labels.py",
        "tests/test_speech_common_mutants.py", "tests/test_transcription.py",
        "tests/test_speech_segments.py", "tests/test_ctc_spaces.py",
        "-k", "not example and not predict_equals and not transcribes_its and not evaluate_"
              "reports and not records_the_manifests and not without_jiwer"],
    "rnnkit/training/callbacks.py": ["tests/test_callbacks_mutants.py", "tests/test_training.py",
                                     "tests/test_trainer_units.py", "tests/test_tensorboard.py",
                                     "tests/test_oracle_checkpoint.py",
                                     "-k", _SLOW_TRAINING_TESTS],
    "rnnkit/training/optim.py": ["tests/test_optim_mutants.py", "tests/test_training.py",
                                 "tests/test_trainer_units.py", "-k", _SLOW_TRAINING_TESTS],
    "rnnkit/models/ctc_beam.py": [
        "tests/test_decoding_mutants.py", "-k", "not seq2seq",
        "tests/test_speech.py::test_ctc_greedy_decoding_of_a_hand_made_posteriorgram",
        "tests/test_speech.py::test_ctc_beam_sums_over_paths_where_greedy_does_not"],
    "rnnkit/models/sampling.py": [
        "tests/test_decoding_mutants.py", "-k", "not seq2seq",
        "tests/test_text_own_data.py::test_a_tiny_temperature_samples_the_most_likely_token",
        "tests/test_models.py::test_sampling_respects_top_k_and_top_p",
        "tests/test_models.py::test_lm_generate_is_repeatable_and_top_k_1_is_greedy"],
    "rnnkit/models/seq2seq.py": [  # (not test_models.py's overfitting runs: minutes per mutant)
        "tests/test_decoding_mutants.py", "tests/test_oracle_decoding.py", "tests/test_models.py",
        "-k", "seq2seq and not overfits or beam_size_1_equals or get_config_round_trip"],
    "rnnkit/data/batches.py": [
        "tests/test_batches_mutants.py",
        "tests/test_charlm.py::test_streams_continue_each_row_across_batches",
        "tests/test_sentiment.py::test_bucketed_batches_have_similar_lengths_and_no_spare_padding",
        "tests/test_sentiment.py::test_trim_keeps_targets_with_their_own_lengths",
        "tests/test_oracle_training.py::test_streamed_batches_carry_the_state_across_steps_and_"
        "reset_it_each_epoch"],
    "rnnkit/data/sequences.py": [
        "tests/test_sequences_mutants.py", "tests/test_classify_own_data.py",
        *(f"tests/test_classify.py::test_{name}" for name in (
            "ts_reads_multivariate_variable_length_with_missing_values",
            "ts_without_labels_and_regression_targets", "malformed_ts_names_file_and_line",
            "malformed_ts_headers", "ts_not_utf8", "ts_reader_equals_aeon_on_the_files_aeon_ships",
            "named_sets_are_copied_from_aeon_and_checked",
            "named_sets_without_aeon_say_what_to_install", "npz_reads_padded_rows_to_their_lengths",
            "malformed_npz", "npz_object_arrays_are_refused_without_unpickling",
            "long_table_groups_by_id_and_orders_by_time", "malformed_long_tables"))],
    "rnnkit/data/long_tables.py": [
        "tests/test_sequences_mutants.py", "tests/test_series_formats.py",
        "tests/test_classify_own_data.py",
        *(f"tests/test_classify.py::test_{name}" for name in (
            "long_table_groups_by_id_and_orders_by_time", "malformed_long_tables"))],
    "rnnkit/data/scaling.py": [
        "tests/test_classify_task_mutants.py", "tests/test_timeseries_data.py",
        "tests/test_timeseries_mutants.py", "tests/test_transform_mutants.py", "-k", "not example"],
    "rnnkit/data/uea.py": [
        "tests/test_sequences_mutants.py", "-k", "named or aeon or uea",
        *(f"tests/test_classify.py::test_{name}" for name in (
            "named_sets_are_copied_from_aeon_and_checked",
            "named_sets_without_aeon_say_what_to_install"))],
    "rnnkit/data/timeseries.py": [  # (not the hypothesis fuzz test: 10 s a run; the examples
        # are not in the scratch copy)
        "tests/test_timeseries_mutants.py", "tests/test_data.py", "tests/test_timeseries_data.py",
        "tests/test_series_formats.py", "tests/test_step_times.py", "tests/test_decimal_times.py",
        "-k", "not any_file_reads and not example_config"],
    "rnnkit/data/windows.py": ["tests/test_timeseries_mutants.py"],
    "rnnkit/data/times.py": [
        "tests/test_times_mutants.py", "tests/test_series_formats.py",
        "tests/test_sequences_mutants.py", "tests/test_timeseries_mutants.py",
        "tests/test_step_times.py", "tests/test_decimal_times.py"],
    "rnnkit/data/datasets.py": [  # (RNNKIT_DATA set: the shared files' hashes too)
        "tests/test_datasets_mutants.py", "tests/test_data.py"],
    "rnnkit/data/synthetic.py": ["tests/test_synthetic_mutants.py"],
    "rnnkit/data/shapes.py": [  # (not the captioning tests of 200-400 scenes: 2-5 s each)
        "tests/test_shapes_mutants.py",
        *(f"tests/test_captioning.py::test_{name}" for name in (
            "generator_is_deterministic_per_seed", "wrong_captions_are_caught"))],
    "rnnkit/data/text.py": [
        "tests/test_text_mutants.py", "tests/test_data.py", "tests/test_text_own_data.py",
        *(f"tests/test_translation.py::test_{name}" for name in (
            "tsv_is_read_to_exactly_the_pairs", "malformed_lines_name_the_file_and_line",
            "a_file_without_pairs_is_an_error",
            "own_file_is_split_by_source_with_all_references"))],
    "rnnkit/data/tokenizers.py": [
        "tests/test_tokenizers_mutants.py", "tests/test_subwords.py",
        "tests/test_text_own_data.py::test_the_word_tokenizer_keeps_combining_marks_and_emoji_"
        "in_their_token",
        "tests/test_oracle_decoding.py::test_unknown_target_words_copy_the_attended_source_word",
        *(f"tests/test_data.py::test_{name}" for name in (
            "char_tokenizer_round_trips", "word_tokenizer_splits_and_round_trips",
            "word_vocabulary_min_freq_and_max_size"))],
    "rnnkit/tasks/translation.py": [  # (not the two that read eng-fra: 10 s and 3.5 s)
        "tests/test_saved_vocabularies.py",
        "tests/test_translation_mutants.py", "tests/test_translation.py",
        "tests/test_translation_references.py", "tests/test_text_own_data.py",
        "tests/test_oracle_decoding.py::test_unknown_target_words_copy_the_attended_source_word",
        "-k", "not test_run_evaluates_ and not test_context_splits_hold_out_"],
    "rnnkit/data/music.py": [  # (not the ones that train a model: 3 s of fixtures)
        "tests/test_music_mutants.py", "tests/test_music_folders.py", "tests/test_music_edges.py",
        "tests/test_music_task_mutants.py::test_transposed_keeps_notes_within_the_keys",
        "tests/test_music_task_mutants.py::test_to_tensors_pads_and_puts_a_zero_frame_first",
        *(f"tests/test_music.py::test_{name}" for name in (
            "roll_midi_round_trip", "midi_timing_and_pitches", "pitches_to_roll_and_range",
            "a_hand_written_midi_reads_to_exactly_the_expected_roll",
            "folder_is_searched_recursively_and_split_by_file",
            "midi_without_notes_is_skipped_and_named", "bad_folders_and_files_name_the_file",
            "smpte_timed_and_zero_division_headers"))],
    "rnnkit/data/audio.py": [
        "tests/test_audio_mutants.py", "tests/test_speech_user_files.py",
        "tests/test_speech_segments.py",
        *(f"tests/test_speech.py::test_{name}" for name in (
            "read_mono_8k", "stereo_44k_is_mixed_down_and_resampled",
            "bad_files_give_clear_errors", "feature_shape_and_frame_rate",
            "spectrogram_equals_librosa_stft", "stack_frames", "connected_utterances",
            "a_16_bit_wav_reads_to_exactly_its_samples", "spectrogram_at_16k_equals_librosa_stft",
            "an_audio_file_with_nan_samples_is_an_error_naming_it",
            "fsdd_release_and_official_split"))],
    "rnnkit/data/flickr.py": [
        "tests/test_flickr_mutants.py", "tests/test_flickr_edges.py",
        *(f"tests/test_captioning.py::test_flickr_loader_{name}" for name in (
            "reads_a_generated_folder", "rejects_a_missing_image", "rejects_a_malformed_line")),
        "tests/test_captioning.py::test_kaggle_caption_files_and_a_byte_order_mark",
        "tests/test_captioning.py::test_an_empty_split_is_an_error_naming_why"],
    "rnnkit/layers/loop.py": ["tests/test_loop_mutants.py", "tests/test_layers.py",
                              "tests/test_kernels.py", "tests/test_mingru.py",
                              "tests/test_oracle_cells.py"],
    **{f"rnnkit/cells/{name}.py": [
        "tests/test_oracle_cells.py", "tests/test_mingru.py", "tests/test_cell_contract.py",
        "tests/test_mingru_mutants.py",
        "-k", "mingru or minlstm or MinGRU or MinLSTM or stable or gates or zoneout or mutants"]
       for name in ("mingru", "minlstm")},
    "rnnkit/cells/base.py": ["tests/test_base_mutants.py", "tests/test_cell_contract.py",
                             "tests/test_layers.py"],
    # the classic cells: against torch.nn's cells and the NumPy reference (layer tests copy
    # torch.nn's weights into each engine)
    **{f"rnnkit/cells/{name}.py": ["tests/test_cell_contract.py", "tests/test_oracle_cells.py",
                                   "tests/test_layers.py", "tests/test_kernels.py",
                                   "tests/test_gate_activations.py"]
       for name in ("lstm", "gru")},
    **{f"rnnkit/cells/{name}.py": [
        "tests/test_cells_mutants.py", "tests/test_cell_contract.py", "tests/test_oracle_cells.py",
        "tests/test_layers.py", "tests/test_kernels.py", "tests/test_gate_activations.py"]
       for name in ("rnn", "layernorm")},
    "rnnkit/layers/recurrent.py": ["tests/test_recurrent_mutants.py", "tests/test_layers.py",
                                   "tests/test_loop_mutants.py", "tests/test_cell_contract.py"],
    # the heads: against their formulas from the modules' own weights (not the models'
    # training runs: seconds per mutant)
    **{f"rnnkit/models/{name}.py": [
        "tests/test_heads_reference.py", "tests/test_models.py",
        "-k", "not overfits and not fits_a_noiseless and not outputs_train"]
       for name in ("attention", "masking", "pooling", "forecast_outputs")},
    "rnnkit/kernels/scan.py": ["tests/test_layers_io_mutants.py", "tests/test_mingru.py",
                               "tests/test_mingru_mutants.py", "tests/test_kernels.py"],
    "rnnkit/layers/sequences.py": ["tests/test_layers_io_mutants.py", "tests/test_layers.py",
                                   "tests/test_torch_compat.py", "tests/test_loop_mutants.py",
                                   "tests/test_streaming.py", "tests/test_errors.py"],
    "rnnkit/layers/stepping.py": ["tests/test_layers_io_mutants.py", "tests/test_streaming.py",
                                  "tests/test_cell_contract.py"],
    "rnnkit/models/states.py": [
        "tests/test_layers_io_mutants.py", "tests/test_streaming.py",
        "tests/test_loop_mutants.py", "tests/test_base_mutants.py",
        "tests/test_heads_reference.py", "tests/test_models.py",
        "-k", "not overfits and not fits_a_noiseless and not outputs_train"],
    "rnnkit/diagnostics/flow.py": ["tests/test_flow_mutants.py", "tests/test_diagnostics.py"],
    "rnnkit/tasks/timeseries/scoring.py": [
        "tests/test_scoring_mutants.py", "tests/test_timeseries_metrics.py",
        "tests/test_intervals.py", "tests/test_oracle_timeseries.py",
        "tests/test_oracle_metrics.py", "-k", "not threshold_is_read"],
    "rnnkit/models/ensemble.py": ["tests/test_ensemble_mutants.py",
                                  "tests/test_forecast_ensemble.py",
                                  "tests/test_classifier_ensemble.py"],
    "rnnkit/export/quantize.py": ["tests/test_quantize_units.py", "tests/test_quantize.py"],
    "rnnkit/tasks/tuning/space.py": [
        "tests/test_tune_space_mutants.py", "tests/test_tune.py", "-k",
        "not test_tune.py or space or ignores_the_tune or never_pruned"],
    # the study and its outputs: stand-in trials and studies made by hand, tiny adding runs
    # (not the --jobs and two-process tests, the CLI runs that train a study and its best
    # config, nor Optuna's own plots: 5-20 s each)
    **{f"rnnkit/tasks/tuning/{name}.py": [
        f"tests/test_tuning_{name}_mutants.py", "tests/test_tune.py", "-m", "not slow", "-k",
        "not writes_a_best_config and not tiny_real_study and not optunas_own_plots",
        *(["tests/test_interruptions.py::test_sigterm_to_tune_is_passed_on_to_its_workers_as_"
           "ctrl_c"] if name == "study" else [])]  # (SIGTERM passed on: 1 s)
       for name in ("study", "report")},
    "rnnkit/tasks/timeseries/transform.py": [  # (not the forecast tests that train)
        "tests/test_transform_mutants.py", "tests/test_timeseries_data.py",
        "tests/test_scoring_mutants.py", "tests/test_intervals.py", "-k", "not example_config",
        *(f"tests/test_forecast.py::test_{name}" for name in (
            "transform_inverts_exactly", "level_normalisation_by_hand",
            "training_windows_never_read_the_validation_or_test_range",
            "metrics_and_baselines",
            "backtest_factors_weigh_lead_times_equally_and_read_nothing_after_the_end"))],
    "rnnkit/tasks/timeseries/source.py": [
        "tests/test_source_mutants.py", "tests/test_timeseries_data.py",
        "tests/test_forecast_multivariate.py", "tests/test_anomaly_labels.py",
        "tests/test_step_times.py", "tests/test_source_edges.py",
        "-k", "not example"],  # (the examples/ folder is not in the scratch copy)
    "rnnkit/tasks/timeseries/timestamps.py": [
        "tests/test_step_times.py", "tests/test_decimal_times.py", "tests/test_source_mutants.py",
        "tests/test_source_edges.py", "tests/test_forecast_task_mutants.py", "-k", "not example"],
    "rnnkit/models/classifier.py": [
        "tests/test_classifier_mutants.py", "tests/test_heads_reference.py", "tests/test_models.py",
        "-k", "not overfits and not fits_a_noiseless and not outputs_train"],
    "rnnkit/models/language_model.py": [
        "tests/test_language_model_mutants.py", "tests/test_charlm.py", "tests/test_models.py",
        "tests/test_text_own_data.py::test_generate_gives_max_new_characters_however_hot_the_"
        "sampling", "-k", "not overfits and not fits_a_noiseless and not outputs_train"],
    "rnnkit/models/decoder.py": [
        "tests/test_decoder_mutants.py", "tests/test_decoding_mutants.py",
        "tests/test_oracle_decoding.py", "tests/test_models.py", "-k",
        "decoder_mutants or seq2seq and not overfits or beam_size_1_equals or "
        "get_config_round_trip"],
    "rnnkit/training/config_io.py": [
        "tests/test_config_io_mutants.py", "tests/test_config.py",
        "tests/test_tune_space_mutants.py", "-k", "not example"],
    "rnnkit/tasks/datafiles.py": [
        "tests/test_datafiles_mutants.py", "tests/test_fingerprints.py",
        "tests/test_source_mutants.py", "tests/test_config.py",
        "tests/test_config_io_mutants.py", "tests/test_hidden_files.py",
        "tests/test_text_classification.py", "-k", "not example"],
    "rnnkit/models/forecaster.py": [
        "tests/test_forecaster_mutants.py", "tests/test_models.py",
        "tests/test_forecast_ensemble.py", "tests/test_heads_reference.py",
        "-k", "forecast or pinball or quantile or gaussian or Forecast"],
    "rnnkit/models/tagger.py": [
        "tests/test_tagger_mutants.py", "tests/test_models.py",
        "-k", "not overfits and not fits_a_noiseless and not outputs_train"],
    "rnnkit/kernels/families.py": ["tests/test_kernels.py", "tests/test_native.py"],
    "rnnkit/diagnostics/gates.py": ["tests/test_flow_mutants.py", "tests/test_diagnostics.py"],
    "rnnkit/layers/checks.py": ["tests/test_checks_mutants.py", "tests/test_errors.py",
                                "tests/test_torch_compat.py",
                                "tests/test_torch_compat_mutants.py",
                                "tests/test_layers_io_mutants.py"],
    "rnnkit/layers/factory.py": ["tests/test_factory_mutants.py", "tests/test_mingru.py",
                                 "tests/test_export_units.py"],
    "rnnkit/diagnostics/weights.py": ["tests/test_weights_mutants.py", "tests/test_diagnostics.py",
                                      "tests/test_flow_mutants.py"],
    **{f"rnnkit/diagnostics/{name}.py": [  # (of test_diagnostics.py only `rnnkit diagnose`)
        "tests/test_summary_mutants.py",
        "tests/test_diagnostics.py::test_plots_written_and_diagnose_command"]
       for name in ("summary", "records")},
    "rnnkit/diagnostics/snapshot.py": ["tests/test_snapshot_mutants.py",
                                       "tests/test_diagnostics.py", "tests/test_flow_mutants.py"],
    "rnnkit/diagnostics/callback.py": ["tests/test_diagnostics_callback_mutants.py",
                                       "tests/test_diagnostics.py"],
    "rnnkit/tasks/timeseries/replays.py": [
        "tests/test_replays_mutants.py", "tests/test_forecast_refit.py",
        "tests/test_oracle_timeseries.py",
        "-k", "replay or refit"],
    "rnnkit/kernels/bptt.py": ["tests/test_kernels.py", "tests/test_native.py"],
    "rnnkit/layers/torch_compat.py": ["tests/test_torch_compat.py", "tests/test_kernels.py",
                                      "tests/test_layers_io_mutants.py", "tests/test_layers.py",
                                      "tests/test_errors.py", "tests/test_streaming.py",
                                      "tests/test_torch_compat_mutants.py"],
    **{f"rnnkit/kernels/{name}.py": ["tests/test_kernels.py", "tests/test_native.py",
                                     "tests/test_streaming.py", "tests/test_mingru.py",
                                     "tests/test_torch_compat.py", "tests/test_engine_registry.py",
                                     "tests/test_plans_cache.py"]
       for name in ("engine", "plans", "layernorm")},
    **{f"rnnkit/export/{name}.py": ["tests/test_export.py", "tests/test_export_units.py"]
       for name in ("layer", "graphs")},
    "rnnkit/export/loops.py": ["tests/test_export.py", "tests/test_export_units.py",
                               "tests/test_export_loops.py"],
    "rnnkit/export/native.py": ["tests/test_export.py", "tests/test_export_units.py",
                                "tests/test_export_native_mutants.py"],
    "rnnkit/export/decoder_models.py": ["tests/test_export.py", "tests/test_export_units.py",
                                        "tests/test_export_decoder_models_mutants.py"],
    "rnnkit/export/sequence_models.py": ["tests/test_export.py", "tests/test_export_units.py",
                                         "tests/test_export_sequence_models_mutants.py"],
    "rnnkit/export/onnx.py": [  # (not tests/test_quantize.py: its int8 exports take minutes)
        "tests/test_export.py", "tests/test_export_units.py", "tests/test_onnx_int8_units.py"],
    "rnnkit/models/base.py": ["tests/test_model_config_check.py",
                              "tests/test_checkpoint_safety.py"],
    **{f"rnnkit/tasks/{name}.py": [
        "tests/test_predictor_units.py", "tests/test_contract.py",
        "tests/test_synthetic_predictors.py",
        "tests/test_run_dirs.py::test_a_run_trained_for_a_gpu_loads_and_predicts_on_a_machine_"
        "without_one"] for name in ("predictor", "base")},
    "rnnkit/tasks/runner.py": [  # (not the example configs, which are not in the scratch
        # copy, nor test_run_dirs.py's CLI runs that draw plots or start a second Python:
        # seconds each, and test_runner_mutants.py checks the same in-process)
        "tests/test_runner_mutants.py", "tests/test_run_dirs.py", "tests/test_config.py",
        "tests/test_tensorboard.py::test_tensorboard_holds_the_scalars_of_metrics_jsonl",
        "-k", "not example and not overwrite_deletes and not locked_run and not "
        "config_toml_was_edited"],
    **{f"rnnkit/reference/{name}.py": ["tests/test_reference.py", "tests/test_reference_mutants.py"]
       for name in ("base", "elman", "gru", "lstm", "gradcheck")},
    "rnnkit/tasks/classify.py": [  # (not the example configs: not in the scratch copy)
        "tests/test_saved_labels.py",
        "tests/test_classify_task_mutants.py", "tests/test_classify.py",
        "tests/test_classifier_ensemble.py", "tests/test_classify_own_data.py",
        "-k", "not example"],
    "rnnkit/tasks/classify_predictor.py": [
        "tests/test_classify_task_mutants.py", "tests/test_classify.py",
        "tests/test_classify_own_data.py", "-k", "not example"],
    "rnnkit/tasks/sentiment.py": [  # (not test_sentiment.py's run_dir tests: they train
        # from examples/, which is not in the scratch copy; nor the runs that train and
        # pretrain, 3-8 s each, whose stages test_sentiment_task_mutants.py checks by hand)
        "tests/test_saved_vocabularies.py", "tests/test_saved_labels.py",
        "tests/test_sentiment_task_mutants.py", "tests/test_sentiment_read_mutants.py",
        "tests/test_sentiment.py", "tests/test_sentiment_own_files.py",
        "tests/test_text_classification.py", "tests/test_classifier_ensemble.py",
        "tests/test_sentiment_pretrain.py", "-k", "not example and not evaluate_and_reload "
        "and not what_the_cli_prints and not predict_text_stdin and not "
        "batched_predict_equals_each and not a_run_pretrains_once and not "
        "each_member_is_pretrained and not trains_loads_and_predicts_with_an_ensemble and not "
        "tokenizer_the_run_saved and not majority_guess_cannot_fake"],
    **{f"rnnkit/tasks/{name}.py": [  # (split from sentiment.py; its fast tests)
        "tests/test_text_labels_mutants.py", "tests/test_class_figures_mutants.py",
        "tests/test_sentiment_task_mutants.py",
        "tests/test_sentiment.py",
        "tests/test_text_classification.py", "tests/test_sentiment_own_files.py",
        "-k", "not example and not evaluate_and_reload and not what_the_cli_prints and not "
        "predict_text_stdin and not batched_predict_equals_each"]
       for name in ("text_labels", "class_figures")},
    "rnnkit/tasks/forecast.py": [  # (not the tests that train a run: seconds each, and
        "tests/test_saved_scalers.py",
        # test_forecast_task_mutants.py checks the same by hand; the examples/ folder is not
        # in the scratch copy)
        "tests/test_forecast_task_mutants.py", "tests/test_scoring_mutants.py",
        "tests/test_source_mutants.py", "tests/test_forecast_multivariate.py",
        "-k", "not example",
        *(f"tests/test_forecast.py::test_{name}" for name in (
            "training_windows_never_read_the_validation_or_test_range",
            "real_series_ranges_match_the_readme",
            "a_header_only_or_too_short_file_says_how_many_points_are_needed"))],
    "rnnkit/tasks/timeseries/forecast_predictor.py": [
        "tests/test_forecast_task_mutants.py", "tests/test_forecast_multivariate.py",
        "tests/test_source_mutants.py", "tests/test_step_times.py", "-k", "not example"],
    "rnnkit/tasks/report.py": ["tests/test_report_mutants.py"],
    "rnnkit/cli/common.py": ["tests/test_cli_common_mutants.py"],
    # the verbs: stand-in predictors and a monkeypatched load (not test_cli.py's and the
    # tasks' CLI runs: each trains a run first, seconds per mutant)
    **{f"rnnkit/cli/{name}.py": [
        "tests/test_cli_verbs_mutants.py",
        *(["tests/test_strict_json.py::test_evaluate_json_writes_null_for_undefined_figures"]
          if name == "evaluate" else [])]
       for name in ("evaluate", "predict", "forecast", "detect", "generate", "translate",
                    "train", "tune")},
    "rnnkit/tasks/text_common.py": ["tests/test_text_common_mutants.py",
                                    "tests/test_fuzz_readers.py"],
    **{f"rnnkit/tasks/{name}.py": ["tests/test_synthetic_task_mutants.py",
                                   "tests/test_synthetic_predictors.py"]
       for name in ("adding", "copy", "sine")},
    "rnnkit/tasks/timeseries/forecasting.py": [
        "tests/test_forecast_task_mutants.py", "tests/test_forecast_multivariate.py",
        "tests/test_forecasting_mutants.py", "-k", "not example"],
    "rnnkit/tasks/anomaly.py": [  # (not test_anomaly.py's tests that train a run: seconds
        "tests/test_saved_scalers.py",
        # each, and test_anomaly_task_mutants.py checks the same on untrained models)
        "tests/test_anomaly_task_mutants.py", "tests/test_anomaly_labels.py",
        "tests/test_anomaly.py::test_anomaly_training_on_a_too_short_file_says_the_minimum",
        "tests/test_step_times.py::test_an_anomaly_run_on_step_numbers_needs_calendar_features_off",
        "tests/test_oracle_timeseries.py::test_the_threshold_is_read_on_the_calibration_range_"
        "only"],
    "rnnkit/tasks/charlm.py": [  # (its tiny training run takes about a second)
        "tests/test_saved_vocabularies.py", "tests/test_charlm_splits_mutants.py",
        "tests/test_charlm_task_mutants.py", "tests/test_charlm.py", "tests/test_text_own_data.py"],
    "rnnkit/tasks/attention_plot.py": [
        "tests/test_attention_plot_mutants.py", "tests/test_translation_mutants.py",
        "tests/test_text_own_data.py", "-k", "plot"],
    "rnnkit/tasks/music.py": [  # (the tiny training runs take about a second in all; the
        # examples/ folder is not in the scratch copy)
        "tests/test_music_task_mutants.py", "tests/test_music.py",
        "tests/test_music_mutants.py", "-k", "not train_evaluate_and_prime_from_a_test_chorale"],
    "rnnkit/tasks/captioning.py": [  # (examples/ is not in the scratch copy: not the tests
        "tests/test_saved_vocabularies.py",
        # that load examples/captioning.toml; not the 2 s overfitting run)
        "tests/test_captioning_task_mutants.py", "tests/test_captioning.py",
        "tests/test_flickr_mutants.py", "-k",
        "not train_evaluate_and_caption_shapes and not predict_equals_caption_json and not "
        "attention_plot_and and not missing_extra and not train_on_a_flickr and not overfits"],
    # the model classes: not test_models.py's overfitting runs nor test_captioning.py's
    # training runs (seconds per mutant), nor what reads examples/ (not in the scratch copy)
    "rnnkit/models/encoder.py": [
        "tests/test_encoder_mutants.py", "tests/test_models.py", "tests/test_streaming.py",
        "-k", "not overfits and not fits_a_noiseless and not outputs_train"],
    "rnnkit/models/feedforward.py": [
        "tests/test_feedforward_mutants.py", "tests/test_models.py",
        "-k", "not overfits and not fits_a_noiseless and not outputs_train"],
    **{f"rnnkit/models/{name}.py": [
        *tests, "tests/test_models.py", "tests/test_captioning.py", "-k",
        "not overfits and not fits_a_noiseless and not outputs_train and not "
        "train_evaluate_and_caption_shapes and not predict_equals_caption_json and not "
        "attention_plot_and and not missing_extra and not train_on_a_flickr"]
       for name, tests in (
           ("generator", ["tests/test_generator_mutants.py"]),
           ("captioner", ["tests/test_captioner_mutants.py"]),
           ("image_encoder", ["tests/test_image_encoder_mutants.py"]))},
    "rnnkit/models/piano_roll.py": [
        "tests/test_piano_roll_mutants.py", "tests/test_music.py", "tests/test_streaming.py",
        "-k", "not train_evaluate_and_prime_from_a_test_chorale"],
    "rnnkit/tasks/translation_data.py": [  # (not the ones that read eng-fra, 10, 3.5 and 1 s,
        # nor the CLI training run: each split_pairs mutant ran them; the builtin corpus and
        # reverse are tested on a stand-in in test_translation_data_mutants.py)
        "tests/test_translation_data_mutants.py", "tests/test_translation_mutants.py",
        "tests/test_translation.py", "tests/test_translation_references.py",
        "tests/test_text_own_data.py",
        "-k", "not test_run_evaluates_ and not test_context_splits_hold_out_ and not "
              "reverse_translates_french_to_english and not toy_run_predicts"],
    "rnnkit/tasks/text_pretrain.py": [  # (not the CLI run that pretrains and trains: 5 s)
        "tests/test_text_pretrain_mutants.py", "tests/test_sentiment_pretrain.py",
        "-k", "not a_run_pretrains_once"],
    # the speech tasks: not the tests that train (the tiny CTC model, the keyword run), nor
    # those that read every FSDD clip's audio or examples/ (not in the scratch copy)
    "rnnkit/tasks/speech_ctc.py": [
        "tests/test_saved_labels.py",
        "tests/test_speech_ctc_mutants.py", "tests/test_ctc_spaces.py",
        "tests/test_speech_segments.py", "tests/test_speech_user_files.py",
        *(f"tests/test_speech.py::test_{name}" for name in (
            "edit_distance_and_rates", "ctc_min_digits_above_max_is_a_config_error",
            "ctc_splits_and_figures", "transcribe_cli", "ctc_predict_equals_transcribe_json",
            "arrays_equal_files", "a_missing_extra_names_it")),
        *(f"tests/test_transcription.py::test_{name}" for name in (
            "frames_labels_and_alphabet_come_from_the_manifests",
            "unseen_characters_are_counted_and_reported",
            "unreadable_audio_and_durations_name_the_line", "too_short_for_ctc_is_warned",
            "a_file_in_training_and_test_is_warned",
            "one_manifest_splits_by_speaker_when_every_line_names_one",
            "without_speakers_the_split_is_by_utterance_or_an_error", "config_errors",
            "without_jiwer_training_stops_before_it_starts"))],
    "rnnkit/tasks/saved_labels.py": ["tests/test_known_classes.py", "tests/test_saved_labels.py",
                                     "tests/test_saved_vocabularies.py"],
    "rnnkit/tasks/confusion.py": [
        "tests/test_speech_digits_mutants.py", "-k", "confusion or report_section",
        "tests/test_speech.py::test_confusion_plot_and_errors"],
    "rnnkit/tasks/speech_digits.py": [
        "tests/test_saved_labels.py",
        "tests/test_speech_digits_mutants.py",
        *(f"tests/test_speech.py::test_{name}" for name in (
            "confusion_plot_and_errors", "after_training_draws_confusion_and_links_it",
            "digits_predict_equals_transcribe_json", "arrays_equal_files",
            "fsdd_release_and_official_split", "digits_splits_follow_the_recordings",
            "keyword_folder_reads_to_exactly_the_expected_tensors",
            "file_lists_name_the_validation_and_test_recordings",
            "speech_commands_names_split_by_speaker",
            "split_by_file_is_seeded_disjoint_and_complete",
            "malformed_keyword_folders_name_the_file", "keyword_config_errors",
            "fsdd_laid_out_as_folders_splits_as_the_builtin_task")),
        *(f"tests/test_keyword_folders.py::test_{name}" for name in (  # (not the CLI run)
            "unreadable_recordings_are_skipped_with_one_warning",
            "the_split_is_that_of_the_folder_without_the_bad_files",
            "the_warning_names_the_first_ten_and_counts_all",
            "file_lists_naming_a_skipped_recording_leave_it_out",
            "a_label_with_no_readable_recording_is_an_error_naming_its_folder",
            "a_folder_with_no_readable_recording_is_an_error_naming_it",
            "separate_folders_are_each_skipped_and_warned_once")),
        *(f"tests/test_speech_user_files.py::test_{name}" for name in (
            "a_long_recording_among_short_ones_is_named_with_what_it_costs",
            "a_run_records_the_rate_and_framing_its_model_hears"))],
    # (not test_anomaly.py's tests that train a detector first: 5-10 s each)
    "rnnkit/tasks/timeseries/detector.py": [
        "tests/test_detector_mutants.py", "tests/test_anomaly_task_mutants.py",
        "tests/test_anomaly_labels.py",
        "tests/test_anomaly.py::test_alarm_hysteresis_and_hold_on_a_hand_made_score",
        "tests/test_anomaly.py::test_anomaly_training_on_a_too_short_file_says_the_minimum"],
    # (not the example configs: the examples are not in the scratch copy)
    "rnnkit/training/config.py": ["tests/test_train_config_mutants.py",
                                  "tests/test_config_io_mutants.py", "tests/test_config.py",
                                  "-k", "not every_example_config"],
    # the figures on stand-in axes (_save monkeypatched) and the report lines from stand-in
    # contexts (not the anomaly runs that train a detector first: 5-10 s each)
    "rnnkit/tasks/timeseries/report.py": ["tests/test_timeseries_report_mutants.py",
                                          "tests/test_detection_plot.py"],
    "rnnkit/diagnostics/plots.py": ["tests/test_diagnostics_plots_mutants.py",
                                    "tests/test_diagnostics_callback_mutants.py",
                                    "tests/test_diagnostics.py::test_plots_written_and_"
                                    "diagnose_command"],
}

# mutmut mutant name -> why the mutant cannot change behaviour (excluded from the score).
_PROMOTED = "the other operand is float64, so the result is float64 either way"
_ZERO_ERROR = "y == point gives a ratio of 0 on either side"
_NEGATIVE = "NumPy takes any negative size in reshape as the inferred one"
_SORTED = "the quantiles are sorted along the last axis afterwards: ties cannot matter"
EQUIVALENT: dict[str, str] = {
    **{f"rnnkit.tasks.timeseries.source.x_pushed_time__mutmut_{n}":
       "np.datetime64 reads 'NaT' in any case, and None, as not-a-time" for n in (7, 9, 10)},
    **{f"rnnkit.tasks.timeseries.source.x_pushed_value__mutmut_{n}": _NEGATIVE + " (and "
       "+1 is the size of the one value)" for n in (25, 26)},
    **{f"rnnkit.tasks.timeseries.source.x_load_labels__mutmut_{n}":
       "read_csv returns no NaN (a missing value is an error, or interpolated): nan_to_num "
       "changes nothing" for n in (59, 60)},
    "rnnkit.tasks.report.x_write_report__mutmut_55": "float() reads 'nan' in any case",
    "rnnkit.cli.common.x_print_records__mutmut_3": "ensure_ascii=None is false, as False is",
    **{f"rnnkit.cli.common.x_write_columns__mutmut_{n}":
       "open's newline=None only translates '\\n' on Windows; csv writes '\\r\\n' itself"
       for n in (24, 27)},
    **{f"rnnkit.cli.{name}.x_register__mutmut_{n}":
       "argparse's default for an option not given is None: default=None dropped is the same"
       for name, n in (("detect", 37), ("forecast", 30), ("forecast", 48), ("predict", 38),
                       ("predict", 54), ("translate", 45), ("translate", 55),
                       ("generate", 40), ("generate", 93), ("generate", 103))},
    **{f"rnnkit.cli.generate.x_register__mutmut_{n}":
       "argparse takes the dest from the first long option, '--max-new': max_new either way"
       for n in (51, 57)},
    "rnnkit.cli.predict.x_run__mutmut_43":
        "the problem is only tested for truth: None is false, as '' is",
    "rnnkit.cli.predict.x_run__mutmut_59":
        "the scores are only tested for truth: None is false, as {} is",
    **{f"rnnkit.tasks.text_common.x_pad_ids__mutmut_{n}":
       "max's default is read only for no rows, which take the other branch" for n in (10, 13)},
    **{f"rnnkit.tasks.text_common.x_pad_ids__mutmut_{n}":
       "torch.tensor of Python ints is int64 (torch.long) by default" for n in (23, 25, 33, 35)},
    **{f"rnnkit.tasks.text_common.x_read_lines__mutmut_{n}":
       "bytes.decode's codec names are case-insensitive and default to UTF-8"
       for n in (34, 42, 45)},
    **{f"rnnkit.tasks.sine.xǁSinePredictorǁgenerate__mutmut_{n}":
       "2 * pi * t / period is float32 whether t is an int64 or a float32 arange"
       for n in (16, 18)},
    "rnnkit.tasks.copy.xǁCopyTaskǁinfo__mutmut_18":
        "Task.info records the task config and does not read the model",
    "rnnkit.tasks.timeseries.forecasting.x_forecast_history__mutmut_144":
        "np.moveaxis(q, 1, -1) of a 2-D q moves axis 1 to where it already is",
    **{f"rnnkit.export.sequence_models.x__last_valid__mutmut_{n}":
       "the graphs run on a CPU copy (prepared) with CPU inputs: arange's default device is "
       "the inputs' device" for n in (2, 4)},
    **{f"rnnkit.export.sequence_models.x_{name}__mutmut_{n}":
       "sequence_input's name defaults to 'x'" for name, n in (
           ("classifier_ensemble_plan", 172), ("pooled_plan", 140), ("stepwise_plan", 107))},
    **{f"rnnkit.export.native.x__blocks__mutmut_{n}":
       "torch.cat and Tensor.chunk default to dim 0" for n in (4, 8)},
    "rnnkit.export.native.x_native_symbolic__mutmut_12":
        "a slot reaches the native symbolic only when native_op(cell, zoneout) is not None, "
        "i.e. without zoneout, which the default 0.0 gives too",
    "rnnkit.export.native.x_native_symbolic__mutmut_69":
        "Split into 2 outputs without sizes splits evenly: [H, H] for the (B, 2H) state",
    "rnnkit.export.native.x_native_symbolic__mutmut_156":
        "a Concat of one input is that input",
    "rnnkit.export.native.x_native_symbolic__mutmut_171":
        "the declared sizes are only a hint: onnxruntime infers the output's shape",
    "rnnkit.export.decoder_models.x__decoder_step__mutmut_102":
        "the scores are 2-D (B, V): log_softmax over dim 1 is over dim -1",
    **{f"rnnkit.export.decoder_models.x_seq2seq_plan__mutmut_{n}":
       "the encoder graph never runs the decoder's recurrent layer (encode only makes its "
       "first state and memory), so its mode cannot matter" for n in (16, 21, 22)},
    **{f"rnnkit.export.decoder_models.xǁ_DecoderPortsǁ__init____mutmut_{n}":
       "only the last axis of the cache made from the dummy keys is read (the projection "
       "size), which any batch or source size gives" for n in (38, 39, 41, 42)},
    "rnnkit.export.decoder_models.x_captioner_plan__mutmut_21":
        "ConditionalGenerator.encode reads memory only when the decoder attends",
    **{f"rnnkit.export.decoder_models.x_generator_plan__mutmut_{n}":
       "an attention without a cache (Luong): the placeholder memory only satisfies encode(); "
       "the encoder graph returns the decoder's first state, which does not read it"
       for n in (45, 46, 47, 48, 49)},
    "rnnkit.export.decoder_models.xǁ_DecoderPortsǁrebuild__mutmut_11":
        "two memory inputs mean an attention without a cache (Luong), which ignores cache",
    "rnnkit.export.sequence_models.x__pool_attention__mutmut_6":
        "the score is 1-D (B,): unsqueeze(1) and unsqueeze(-1) both make (B, 1)",
    **{f"rnnkit.export.sequence_models.x__forecast__mutmut_{n}":
       "both parts are 2-D (B, .): torch.cat along dim +1 is along dim -1" for n in (21, 36)},
    **{f"rnnkit.export.sequence_models.x_forecaster_plan__mutmut_{n}":
       "the plan is registered for Forecaster and ForecastEnsemble only, which always set "
       "covariates: getattr's default is never read" for n in (54, 57, 60)},
    **{f"rnnkit.export.sequence_models.x_feedforward_plan__mutmut_{n}":
       "FeedForward has no recurrent layer, so prepared never asks for a layer's mode"
       for n in (63, 66, 67)},
    **{f"rnnkit.tasks.classify_predictor.x__unpadded__mutmut_{n}":
       "for a (T,) sequence observed.any(axis=()) is observed itself" for n in (11, 19)},
    "rnnkit.tasks.classify_predictor.x__unpadded__mutmut_8":
        "astype(None) is astype(float64)",
    **{f"rnnkit.data.long_tables.x_read_long_table__mutmut_{n}":
       "keys only word the missing-column message, and this read asks for the time column "
       "the table was just found to have" for n in (55, 59)},
    **{f"rnnkit.data.long_tables.x_read_long_table__mutmut_{n}":
       "the whole table's group key is never shown: its sequence is named by file and line "
       "alone" for n in (96, 97)},
    "rnnkit.data.times.x_column_times__mutmut_104":
        "a column exactly one layout reads has returned just above: len(fits) >= 1 is > 1 here",
    **{f"rnnkit.data.times.x_column_times__mutmut_{n}":
       "unreachable: the ISO reading above failed on some cell and parse_iso is deterministic, "
       "so the loop before it raises first" for n in (167, 168, 169)},
    **{f"rnnkit.data.times.x_column_times__mutmut_{n}":
       "stacklevel only changes the file and line Python shows beside the warning (the CLI "
       "prints none)" for n in (83, 86, 122, 130)},
    **{f"rnnkit.data.times.x__steps__mutmut_{n}":
       "stacklevel only changes the file and line Python shows beside the warning (the CLI "
       "prints none)" for n in (23, 26)},
    **{f"rnnkit.data.times.x__number_times__mutmut_{n}":
       "the values are Python ints (rounded microseconds), which np.array makes int64 without "
       "being told" for n in (66, 68)},
    **{f"rnnkit.data.times.x__number_times__mutmut_{n}":
       "the step values are Python ints, or ints and floats: np.array makes them int64, or "
       "float64, without being told" for n in (58, 60)},
    **{f"rnnkit.data.times.x_decimals__mutmut_{n}":
       "decimals is given float64 arrays only (step numbers with decimals)" for n in (3, 5)},
    "rnnkit.data.times.x_decimals__mutmut_7":
        "the loop checking 9 places returns 9 there, as the line after the loop does",
    **{f"rnnkit.data.times.x_step_tolerance__mutmut_{n}":
       "step_tolerance is given float64 arrays only (step numbers with decimals)"
       for n in (12, 14)},
    "rnnkit.data.times.x__irregular__mutmut_6":
        "timedelta64 steps as float64 are the same numbers: the same median and comparisons",
    "rnnkit.data.times.x__irregular__mutmut_13":
        "1.0 and 2.0 are both above the 0.1 a reading must reach and above every share, so the "
        "same reading is taken or the same error raised",
    "rnnkit.tasks.timeseries.timestamps.x_time_step__mutmut_31":
        "int64 or timedelta64 differences as float64 are the same numbers; int() of their "
        "median is the same",
    "rnnkit.tasks.timeseries.timestamps.x_parse_times__mutmut_4":
        "the labels (time_labels) hold no X: stripping X and - strips the same",
    "rnnkit.tasks.timeseries.timestamps.x_parse_times__mutmut_15":
        "np.datetime64 reads a space between date and time as it reads T",
    "rnnkit.data.times.x_parse_iso__mutmut_24": "np.datetime64('9999') is in years already",
    **{f"rnnkit.tasks.speech_common.xǁSpeechPredictorǁread_file__mutmut_{n}":
       "lowercase only changes the manifest's texts; read_file keeps only the audio paths "
       "(and a segment's offset and duration)" for n in (33, 34, 36, 40, 41, 42, 45, 47)},
    "rnnkit.tasks.transcription.xǁManifestDataǁframes_and_labels__mutmut_11":
        "read_audio's sample_rate defaults to SAMPLE_RATE, the value given",
    **{f"rnnkit.tasks.transcription.x_text_error_rates__mutmut_{n}":
       "normalize_text tests lowercase for truth: None keeps case as False does" for n in (21, 27)},
    **{f"rnnkit.tasks.classify.x__outputs__mutmut_{n}":
       "on a CPU-only machine .to(None) and .to(the model's device) leave the batch on the CPU"
       for n in (1, 8)},
    "rnnkit.tasks.classify_predictor.x_encode__mutmut_24":
        "the float64 row is cast to float32 by the assignment into the float32 tensor x",
    "rnnkit.tasks.classify.x_fit_scaler__mutmut_6":
        "nanmean and nanstd, the only calls in the block, warn RuntimeWarnings only",
    "rnnkit.tasks.classify.xǁClassifyTaskǁinfo__mutmut_2":
        "Task.info reads only the context's config: the model argument is not used",
    **{f"rnnkit.tasks.sentiment.xǁSentimentPredictorǁread_file__mutmut_{n}":
       "the last part after a '.' is the same whatever the number of splits" for n in (8, 12)},
    "rnnkit.tasks.sentiment.xǁSentimentPredictorǁread_file__mutmut_13":
        "with a '.' in the path, rsplit('.', 1) has exactly two parts: [+1] is [-1]",
    "rnnkit.tasks.sentiment.xǁSentimentPredictorǁread_file__mutmut_18":
        "'.XXXX' is no table suffix either: a path without a '.' is read as lines either way",
    "rnnkit.tasks.sentiment.xǁSentimentPredictorǁread_file__mutmut_22":
        "'-' has no '.', so its suffix is '' and '.' is not in FORMATS: lines either way",
    "rnnkit.tasks.sentiment.xǁSentimentTaskǁinfo__mutmut_2":
        "Task.info reads only the context's config: the model argument is not used",
    **{f"rnnkit.tasks.attention_plot.x_plot_attention__mutmut_{n}":
       "w.message is the Warning instance itself: warn takes its category from its class "
       "when none is given" for n in (33, 36)},
    "rnnkit.tasks.sentiment.xǁSentimentPredictorǁread_file__mutmut_62":
        "Predictor.read_file takes **options but reads none of them",
    **{f"rnnkit.tasks.sentiment.xǁSentimentTaskǁ{name}":
       "the probabilities are 2-D (N, C): argmax(1) is argmax(-1)"
       for name in ("report_sections__mutmut_15", "extra_metrics__mutmut_9")},
    **{f"rnnkit.tasks.timeseries.metrics.x_{name}": _PROMOTED for name in (
        "coverage__mutmut_3", "coverage__mutmut_5", "pinball__mutmut_4", "pinball__mutmut_6",
        "pinball__mutmut_8", "pinball__mutmut_10", "point_metrics__mutmut_3",
        "point_metrics__mutmut_5", "point_metrics__mutmut_7", "point_metrics__mutmut_9")},
    **{f"rnnkit.data.audio.x__silence__mutmut_{n}":
       "float64 zeros: the utterance is cast to float32 after the float64 noise is added, and "
       "zeros and the float32 signals are exact in either dtype" for n in (2, 4)},
    "rnnkit.data.audio.x_connected_utterances__mutmut_21":
        "Generator.integers(n) draws from [0, n) with the same stream as integers(0, n)",
    **{f"rnnkit.data.audio.x_features__mutmut_{n}":
       "power_spectrogram converts the signal to float32 itself" for n in (18, 20)},
    **{f"rnnkit.data.flickr.x_load_flickr__mutmut_{n}":
       "the names and their lines come from the same rows, so every name has a line: the "
       "default of lines.get is never used" for n in (28, 30, 31)},
    "rnnkit.data.flickr.x_caption_rows__mutmut_6": "Python's codec names ignore case",
    "rnnkit.data.flickr.x_caption_rows__mutmut_31":
        "a file without a line has no header: '' and 'XXXX' are both no key of HEADERS",
    **{f"rnnkit.data.flickr.x_read_image__mutmut_{n}":
       "require's extra defaults to EXTRAS['PIL'], 'vision', the value given" for n in (3, 5)},
    "rnnkit.data.audio.x_features__mutmut_53": "librosa.feature.delta's default order is 1",
    "rnnkit.data.audio.x_power_spectrogram__mutmut_23":
        "rfft's default axis is the last: axis 1 of the (T, n_fft) frames",
    "rnnkit.data.audio.x_stack_frames__mutmut_24": _NEGATIVE,
    "rnnkit.data.audio.x_features__mutmut_38":
        "einsum reads upper-case subscripts the same way: the same contraction",
    "rnnkit.diagnostics.weights.x_layer_of__mutmut_25":
        "rsplit('.', 1)[0] of a name without a '.' is the name itself",
    "rnnkit.diagnostics.weights.x_recurrent_spectral_radii__mutmut_17":
        "rows % n == 0 here, so rows / n is a whole float, and dict.get(4.0) is dict.get(4)",
    **{f"rnnkit.diagnostics.weights.x_spectral_radius__mutmut_{n}":
       "on a CPU-only machine .to(None, float64) and .to(float64) leave the matrix on the CPU"
       for n in (11, 13)},
    **{f"rnnkit.diagnostics.summary.x_summarize__mutmut_{n}":
       "radii is only read under `if radii:`, and None is as falsy as {}" for n in (81, 83)},
    "rnnkit.diagnostics.records.x_series__mutmut_23": "float() reads 'NAN' as 'nan': any case",
    **{f"rnnkit.diagnostics.snapshot.x_take_snapshot__mutmut_{n}":
       "on a CPU-only machine no parameter is on CUDA and fork_rng has no GPU to fork: the "
       "devices are [] either way (tests/test_snapshot_mutants.py checks the GPU's random "
       "state where there is one)" for n in (3, 5, 6, 8, 9, 10)},
    "rnnkit.diagnostics.callback.xǁDiagnosticsCallbackǁon_step_end__mutmut_11":
        "on a CPU-only machine .to(None) and .to(the trainer's device) leave the batch on the CPU",
    **{f"rnnkit.data.music.x_roll_to_midi__mutmut_{n}": reason for n, reason in (
        (36, "mido's MidiFile type defaults to 1"),
        (47, "a mido message's time defaults to 0"), (58, "a mido message's time defaults to 0"),
        (75, "at t = 0 both rows compared are the zero edges (padded[-1] is the last one): "
             "no message"))},
    **{f"rnnkit.data.music.x_read_midi_folder__mutmut_{n}":
       "stacklevel: under mutmut's trampoline (two more frames in music.py) levels 1-3 all "
       "point into music.py; outside mutmut tests/test_music_mutants.py's "
       "test_the_folder_warning_points_at_the_caller checks the caller's file"
       for n in (84, 88)},
    **{f"rnnkit.data.music.x_read_midi_roll__mutmut_{n}":
       "ticks_per_beat is an int: a header of 0 enters the SMPTE branch under beat <= 0 or "
       "beat < 1 and leaves it 0 (-(0 >> 8) * (0 & 0xFF) / 2)" for n in (25, 26)},
    **{f"rnnkit.data.music.x_{name}__mutmut_{n}":
       "without an extra named, require looks mido's up in EXTRAS: 'music'"
       for name, n in (("read_midi_roll", 5), ("read_midi_roll", 7), ("roll_to_midi", 8),
                       ("roll_to_midi", 10))},
    "rnnkit.data.music.x_plot_roll__mutmut_39":
        "matplotlib reads interpolation names case-insensitively",
    "rnnkit.data.music.x_to_tensors__mutmut_15":
        "a float64 roll copied into the float32 tensor y is cast to float32 there",
    "rnnkit.tasks.timeseries.events.x__time__mutmut_4":
        "NumPy infers the unit s from NAB's 'YYYY-MM-DD hh:mm:ss' timestamps",
    "rnnkit.tasks.timeseries.events.x__time__mutmut_9":
        "NumPy parses a space between date and time as the T",
    "rnnkit.tasks.timeseries.events.x_events__mutmut_12":
        "float64 differences of 0/1 are nonzero at the same edges as int8 ones",
    "rnnkit.tasks.timeseries.events.x_rolling_zscore__mutmut_20":
        "for t < window the wrapped cumulative sums give a negative variance, clipped to 0: "
        "z stays 0",
    "rnnkit.tasks.timeseries.events.x_window_indices__mutmut_12": "'left' is the default side",
    "rnnkit.tasks.timeseries.intervals.x_bands_from__mutmut_16":
        "float32 levels lie within 3e-8 of their decimals: 6 or 7 decimals give the same keys",
    "rnnkit.tasks.timeseries.intervals.x_bands_from__mutmut_19": _SORTED,
    "rnnkit.tasks.timeseries.intervals.x_bands_from__mutmut_21": _SORTED,
    "rnnkit.tasks.timeseries.intervals.x_bands_from__mutmut_23": _SORTED,
    "rnnkit.tasks.timeseries.intervals.x_bands_from__mutmut_29": "np.sort's default axis is -1",
    "rnnkit.tasks.timeseries.intervals.x_bands_from__mutmut_7": _NEGATIVE,
    "rnnkit.tasks.timeseries.intervals.x_bands_from__mutmut_33": _NEGATIVE,
    "rnnkit.tasks.timeseries.intervals.x_conformal_factors__mutmut_3": _ZERO_ERROR,
    "rnnkit.tasks.timeseries.intervals.x_bounded__mutmut_26":
        "stacklevel 3 instead of 2: under mutmut's trampoline (one more frame) both point "
        "into mutmut; without it the test sees the warning at the caller's line",
    "rnnkit.tasks.timeseries.calibration.x_backtest_factors__mutmut_43": _ZERO_ERROR,
    "rnnkit.tasks.timeseries.calibration.x_backtest_factors__mutmut_33":
        "the weights are divided by their sum",
    "rnnkit.tasks.timeseries.calibration.x_forecast_bands__mutmut_8":
        "None is falsy like False: no targets either way",
    **{f"rnnkit.training.checkpoint.x__sha256__mutmut_{n}":
       "the hash of the whole file is the same whatever size the blocks are read in"
       for n in (13, 15, 16)},
    **{name: "tensors=None is falsy like False: the JSON branch either way" for name in (
        "rnnkit.training.checkpoint.x__verify__mutmut_4",
        "rnnkit.training.checkpoint.x_load_checkpoint__mutmut_9",
        "rnnkit.training.checkpoint.x_load_checkpoint__mutmut_52")},
    "rnnkit.training.checkpoint.x__plain_name__mutmut_13":
        "'/' is os.sep on POSIX and os.altsep on Windows, both checked on the same line",
    "rnnkit.training.distributed.x_any_across__mutmut_14":
        "the flags are 0 or 1: their sum (all_reduce's default) is > 0 exactly when their max is",
    "rnnkit.training.distributed.x_any_across__mutmut_9":
        "a raised flag of 2 instead of 1 is > 0 all the same",
    "rnnkit.training.trainer.xǁTrainerǁvalidate__mutmut_21": "evaluate's split defaults to 'val'",
    **{f"rnnkit.training.trainer.x_stop_signal__mutmut_{n}":
       "the reasons' words are joined by single spaces: rsplit(None), rsplit(' ') and "
       "rsplit(' ', 2) end with the same last word" for n in (2, 5, 8)},
    "rnnkit.training.trainer.xǁTrainerǁ__init____mutmut_80":
        "_stop_request is only read through bool() and `or`: None is falsy like ''",
    "rnnkit.training.tbptt.x_reset_state__mutmut_11":
        "torch promotes the bool mask to the state's dtype in the product",
    "rnnkit.training.tbptt.x_chunks__mutmut_35": "nothing follows the loop in the generator",
    "rnnkit.training.tbptt.x_run_batch__mutmut_6":
        "k = T cuts one chunk, the whole batch, either way",
    **{f"rnnkit.models.beam.x_beam_search_one__mutmut_{n}":
       "device= dropped: every tensor is on the CPU here (tests/test_cuda.py has GPUs)"
       for n in (5, 8, 10, 22, 26, 31, 33, 80, 83, 144, 146, 150, 152, 190, 193)},
    **{f"rnnkit.models.beam.x_beam_search_one__mutmut_{n}":
       "dtype= dropped: torch's defaults (int64 for an int fill, float32) are the same"
       for n in (21, 25, 191, 194)},
    "rnnkit.models.beam.x_beam_search_one__mutmut_3":
        "rnn is only read for its device and dtype, which every layer's state shares",
    "rnnkit.models.beam.x_beam_search_one__mutmut_4":
        "rnn is only read for its device and dtype, which h and c share",
    "rnnkit.models.beam.x_beam_search_one__mutmut_48":
        "the first step's rows all index row 0 of attn, so a second row is never read",
    "rnnkit.models.beam.x_beam_search_one__mutmut_98":
        "log_softmax over dim +1 of a (k, V) tensor is dim -1",
    "rnnkit.models.beam.x_beam_search_one__mutmut_109":
        "each of the k rows has one eos, so the top 2k candidates already hold k live ones",
    "rnnkit.data.tables.x__read_jsonl__mutmut_3":
        "the columns given to Table are replaced by the keys seen before the table is returned",
    "rnnkit.data.tables.x_read_table__mutmut_14": "Python's codec names ignore case",
    "rnnkit.data.tables.x__json_array__mutmut_23": "str.count's start None is 0",
    "rnnkit.data.tables.x__json_array__mutmut_5":
        "unreachable: the text starts with '[', so json.loads gives a list or raises",
    "rnnkit.data.tables.x_delimiter_of__mutmut_6":
        "a file of blank lines: sniffing '' or 'XXXX' (no comma, semicolon or tab) gives ','",
    "rnnkit.data.tables.x__read_delimited__mutmut_6":
        "a file of blank lines: sniffing '' or 'XXXX' (no comma, semicolon or tab) gives ','",
    "rnnkit.data.keywords.x_read_file_list__mutmut_8": "Python's codec names ignore case",
    "rnnkit.data.manifests.x_read_manifest__mutmut_13": "Python's codec names ignore case",
    "rnnkit.data.sequences.x__text_lines__mutmut_8": "Python's codec names ignore case",
    "rnnkit.data.windows.x_window_starts__mutmut_6":
        "when last < start, np.arange(start, last + 1) is an empty int64 array too",
    "rnnkit.data.timeseries.x__check_gaps__mutmut_24":
        "np.median takes the mean of its middle elements in float64: int64 diffs are converted "
        "to float64 there either way, giving the same step",
    "rnnkit.data.timeseries.x__check_order__mutmut_34":
        "NumPy reads sort kinds case-insensitively: 'STABLE' is 'stable'",
    "rnnkit.data.timeseries.x__checked__mutmut_11":
        "np.abs and <= on NaN and inf raise no floating-point 'invalid' error (none even under "
        "errstate(invalid='raise')): the errstate changes nothing",
    "rnnkit.data.timeseries.x__checked__mutmut_55":
        "None assigned into a float64 array is stored as NaN",
    **{f"rnnkit.data.timeseries.x__checked__mutmut_{n}":
       "a value column is missing in every row past n (that is how n was found), so "
       "interpolating it over every row gives the same first n values and the same "
       "'no value' check" for n in (90, 91)},
    **{f"rnnkit.data.timeseries.x_{name}__mutmut_{n}":
       "column names given are never None (value_columns, covariate_columns: lists of names), "
       "so _column's default is read for the time column alone, and a header holds at least "
       "one name (a file without one is 'empty')"
       for name, n in (("_column", 2), ("_column", 3), ("read_csv", 26), ("read_csv", 33),
                       ("read_csv", 41), ("read_csv", 48))},
    "rnnkit.data.timeseries.x__read_rows__mutmut_9": "Python's codec names ignore case",
    **{f"rnnkit.data.timeseries.x__report__mutmut_{n}":
       "stacklevel: under mutmut's trampoline (two more frames a call, in trampoline.py) "
       "levels 1, 4 and 5 all point into mutmut's files; outside mutmut "
       "tests/test_timeseries_mutants.py's test_read_warnings_point_at_the_caller checks the "
       "caller's file" for n in (15, 23)},
    **{f"rnnkit.data.timeseries.x_read_csv__mutmut_{n}":
       "the line numbers are Python ints, which np.array makes int64 (with no rows the empty "
       "array is never indexed)" for n in (112, 114)},
    "rnnkit.data.timeseries.x__number__mutmut_1":
        "read_csv, its one caller, always passes decimal_comma: the default is never read",
    **{f"rnnkit.data.timeseries.x_read_csv__mutmut_{n}":
       "_number returns Python floats, which np.array makes float64 (an empty list too)"
       for n in (82, 84)},
    **{f"rnnkit.data.shapes.x_scene_array__mutmut_{n}":
       "np.full with the int fill -1 is int64 already (64-bit Linux)" for n in (4, 7)},
    **{f"rnnkit.data.shapes.x_caption_correct__mutmut_{n}":
       "_before reads every axis but 'h' as 'v'" for n in (60, 61)},
    **{f"rnnkit.data.shapes.x__place__mutmut_{n}":
       "slack = 65 - 2 * sum(halves) - 4 * n is odd, never 0: < 0, <= 0 and < 1 agree"
       for n in (17, 18)},
    **{f"rnnkit.data.shapes.x_render__mutmut_{n}":
       "the RGB integers are exact in float32 and their sum with the float64 jitter is "
       "float64 either way" for n in (70, 72)},
    **{f"rnnkit.data.shapes.x_render__mutmut_{n}":
       "no pixel reaches 255: colours are at most 230 + 20, the background 70 plus N(0, 6) "
       "noise" for n in (93, 98)},
    **{f"rnnkit.data.shapes.x_{name}":
       "Generator.choice reads replace as a truth value: None draws without replacement, "
       "as False does" for name in ("captions_for__mutmut_6", "random_scene__mutmut_23")},
    **{f"rnnkit.data.shapes.x_{name}":
       "the default cap 4 instead of 3: the count drawn is 1, 2 or 3, under either cap"
       for name in ("random_scene__mutmut_1", "make_split__mutmut_2")},
    "rnnkit.data.shapes.x_random_scene__mutmut_55":
        "rng.random() is exactly 0.5 with probability 2**-53: < and <= give the same axes",
    "rnnkit.data.shapes.x_scenes_from_array__mutmut_25":
        "a padding row is -1 in every column and an object's colour index is >= 0: column 1 "
        "tells them apart as column 0 does",
    "rnnkit.data.shapes.x__parse__mutmut_162": "Parsed's axis defaults to None",
    **{f"rnnkit.data.shapes.x_all_captions__mutmut_{n}":
       "that caption is made only when both objects share the shape (87) or colour (97)"
       for n in (87, 97)},
    **{f"rnnkit.data.shapes.xǁ_Readerǁpeek__mutmut_{n}":
       "every caller peeks with n = 0, where i + n and i - n are the same index"
       for n in (4, 5)},
    **{f"rnnkit.data.datasets.x_{name}":
       "the read block size (or one read of everything): the same bytes in the same order"
       for name in ("sha256_of__mutmut_13", "sha256_of__mutmut_15", "sha256_of__mutmut_16",
                    "_download__mutmut_32", "_download__mutmut_34", "_download__mutmut_35")},
    **{f"rnnkit.data.datasets.x__download__mutmut_{n}":
       "missing_ok: the temporary file exists whenever the except runs (os.replace, the "
       "try's last step, either moved it and nothing after can fail, or raised)"
       for n in (42, 44)},
    "rnnkit.data.synthetic.x_adding_problem__mutmut_22":
        "torch.randint(high, size) draws from [0, high) like randint(0, high, size)",
    **{f"rnnkit.data.synthetic.x_sine_windows__mutmut_{n}":
       "an int64 arange times the float 2 pi is float32 with the same values (checked "
       "bit for bit up to 1000 steps)" for n in (9, 11)},
    "rnnkit.data.synthetic.x_sine_windows__mutmut_54":
        "noise 0 adds 0 * randn = 0 (the generator is local): the same values",
    **{f"rnnkit.data.sequences.x_read_npz__mutmut_{n}":
       "np.load's allow_pickle defaults to False, and None is falsy" for n in (5, 7)},
    **{f"rnnkit.data.sequences.x_{name}__mutmut_{n}":
       "the array name given to _npz_error is only compared with 'y': any other name "
       "words the same message" for name, n in (("_npz_error", 1), ("_npz_error", 2),
                                                 ("read_npz", 39), ("read_npz", 40))},
    **{f"rnnkit.data.sequences.x_{name}__mutmut_{n}": "Python's codec names ignore case"
       for name, n in (("_npz_label", 10), ("ts_target", 10))},
    **{f"rnnkit.data.sequences.x__unpadded__mutmut_{n}":
       "float ones instead of bool ones: any() and argmax read 1.0 as True" for n in (12, 14)},
    "rnnkit.data.manifests.x__utterance__mutmut_63":
        "pathlib's folder / an absolute path is that absolute path",
    "rnnkit.data.manifests.x_is_manifest__mutmut_6": "Python's codec names ignore case",
    "rnnkit.data.manifests.x_is_manifest__mutmut_12":
        "a file of blank lines: json.loads fails on '' and on 'XXXX' alike (False)",
    "rnnkit.tasks.text_labels.x_repeated_texts_warning__mutmut_2":
        "the key is only compared with other keys: joined by any separator holding a space, "
        "the words (which hold none) still map one-to-one",
    "rnnkit.tasks.class_figures.x_per_class__mutmut_2":
        "astype(None) is astype(float64), as astype(float) is",
    "rnnkit.models.encoder.xǁSequenceEncoderǁembed__mutmut_8":
        "nn.Dropout is the identity in eval mode: applying it there changes nothing",
    "rnnkit.models.feedforward.xǁFeedForwardǁcompute_loss__mutmut_19":
        "the logits are (B, classes): argmax over dim +1 is over dim -1",
    **{f"rnnkit.models.{name}": "device dropped: every tensor is on the CPU here "
       "(tests/test_cuda.py has GPUs)" for name in (
           *(f"generator.xǁConditionalGeneratorǁ{m}" for m in (
               "_first_input__mutmut_7", "_first_input__mutmut_11", "_first_input__mutmut_14",
               "_first_input__mutmut_17", "compute_loss__mutmut_25", "compute_loss__mutmut_29",
               "encode__mutmut_36", "encode__mutmut_40", "forward__mutmut_11")),
           "piano_roll.xǁPianoRollLMǁcompute_loss__mutmut_19",
           "piano_roll.xǁPianoRollLMǁcompute_loss__mutmut_23",
           *(f"captioner.xǁImageCaptionerǁ{m}" for m in (
               "_draw_references__mutmut_5", "_draw_references__mutmut_8",
               "compute_loss__mutmut_42", "compute_loss__mutmut_44", "compute_loss__mutmut_82",
               "compute_loss__mutmut_86")),
           *(f"image_encoder.x_coordinate_channels__mutmut_{n}" for n in (14, 19, 39, 44)))},
    **{f"rnnkit.models.generator.xǁConditionalGeneratorǁ_first_input__mutmut_{n}":
       "dtype= dropped: torch.full with an int fill is int64 (torch.long) anyway" for n in (6, 10)},
    "rnnkit.models.generator.xǁConditionalGeneratorǁ_feedback__mutmut_5":
        "the decoder's step outputs are (B, O): argmax over dim +1 is over dim -1",
    **{f"rnnkit.models.piano_roll.xǁPianoRollLMǁgenerate__mutmut_{n}":
       "an unbatched prime's roll is returned as roll[0]: the batch size of its empty "
       "(0 steps) roll is never seen" for n in (22, 24)},
    "rnnkit.models.captioner.xǁImageCaptionerǁ__init____mutmut_36":
        "a batch of 2 zero images instead of 1 (in eval mode) gives the same h and w",
    **{f"rnnkit.models.captioner.xǁImageCaptionerǁ__init____mutmut_{n}":
       "memory_size is read only with attention: the Decoder ignores it for 'none' and the "
       "captioner's config drops it" for n in (65, 67, 68)},
    "rnnkit.models.captioner.xǁImageCaptionerǁ__init____mutmut_97":
        "ConditionalGenerator's config already holds the same vocab_size",
    "rnnkit.models.captioner.xǁImageCaptionerǁ_draw_references__mutmut_18":
        "the noise is in [0, 1): empty slots at -1 or -2 rank last all the same",
    "rnnkit.models.captioner.xǁImageCaptionerǁ_draw_references__mutmut_23":
        "the noise is (B, R): topk's default dim -1 is dim 1",
    "rnnkit.models.captioner.xǁImageCaptionerǁcompute_loss__mutmut_21":
        "references_per_step == R draws every caption in another order: the same tokens "
        "averaged (only the random numbers used differ)",
    **{f"rnnkit.models.captioner.xǁImageCaptionerǁcompute_loss__mutmut_{n}":
       "keeping the empty slots' rows adds rows without a valid step: nothing to the loss, "
       "the count or the accuracy (dropping them only saves work)" for n in (33, 34, 36)},
    "rnnkit.models.captioner.xǁImageCaptionerǁcompute_loss__mutmut_59":
        "a model without attention ignores the memory it is given",
    **{f"rnnkit.models.image_encoder.x_coordinate_channels__mutmut_{n}":
       "without the leading 1, expand(B, 1, H, W) broadcasts the 3-D view to the same values"
       for n in (7, 8, 32, 33, 34)},
    **{f"rnnkit.models.image_encoder.x_normalise_images__mutmut_{n}":
       "(3, 1, 1) broadcasts against the (B, 3, H, W) images as (1, 3, 1, 1) does"
       for n in (12, 26)},
    "rnnkit.models.image_encoder.xǁConvEncoderǁ__init____mutmut_15":
        "nn.Conv2d reads bias=None as falsy: no bias, like bias=False",
    **{f"rnnkit.models.image_encoder.xǁConvEncoderǁ__init____mutmut_{n}":
       "ReLU in place or not: the same values and gradients (batch norm's output is not reused)"
       for n in (26, 27)},
    "rnnkit.models.ctc_beam.x__beam_one__mutmut_2":
        "the empty prefix's log p_b 1 instead of 0 adds 1 to every prefix's log-probability "
        "(all paths start there): the same ranking, the same answer",
    **{f"rnnkit.models.sampling.x_sample_logits__mutmut_{n}":
       "logits are checked to be 2-D (B, V): dim +1 is dim -1" for n in (
           30, 37, 47, 53, 60, 82, 87, 92, 103, 115, 125)},
    **{f"rnnkit.models.sampling.x_sample_logits__mutmut_{n}": "torch's default dim is -1"
       for n in (59, 80)},
    **{f"rnnkit.models.sampling.x_sample_logits__mutmut_{n}": "float('-INF') is -inf"
       for n in (72, 112)},
    **{f"rnnkit.models.sampling.x_sample_logits__mutmut_{n}":
       "top_p = 1.0 then takes the nucleus path, which keeps every token whose preceding "
       "mass is below 1: all of them (bar float32 rounding of a cumulative sum at 1)"
       for n in (75, 76)},
    "rnnkit.models.sampling.x_sample_logits__mutmut_52":
        "top_k = V: the k-th largest is the smallest logit, nothing lies below it",
    **{f"rnnkit.models.sampling.x_sample_logits__mutmut_{n}":
       "the overflow check over all logits (None) or each column (-2) instead of each row "
       "also finds every +inf and NaN; it differs only where a row or column is -inf "
       "throughout, where the shifted path gives the same softmax" for n in (36, 38)},
    **{f"rnnkit.models.seq2seq.xǁSeq2Seqǁcompute_loss__mutmut_{n}":
       "length_mask reads its batch size only when lengths is None; y_lengths is given here"
       for n in (12, 23)},
    "rnnkit.models.seq2seq.xǁSeq2Seqǁforward__mutmut_18":
        "the decoder's step outputs are (B, V): argmax over dim +1 is over dim -1",
    "rnnkit.training.callbacks.xǁMetricsLoggerǁ_log_window__mutmut_10": "float('NAN') is nan",
    "rnnkit.training.callbacks.x_default_callbacks__mutmut_3":
        "cbs is still the empty list there: cbs = [...] is cbs += [...]",
    "rnnkit.training.callbacks.xǁMetricsWriterǁ__init____mutmut_8":
        "_checked is read only by `not`: None is falsy like False",
    **{f"rnnkit.training.callbacks.xǁMetricsWriterǁwrite__mutmut_{n}":
       "checking the last byte again before each later record finds the newline this writer "
       "ended its own last record with" for n in (9, 10)},
    **{f"rnnkit.training.callbacks.xǁMetricsWriterǁwrite__mutmut_{n}":
       "after seek(-1, 2) one byte is left: read(None) and read(2) read that byte"
       for n in (30, 31)},
    **{f"rnnkit.training.callbacks.xǁMetricsWriterǁwrite__mutmut_{n}":
       "strict() has already made every NaN or infinite float None: json.dumps meets none to "
       "allow or refuse" for n in (39, 41, 43)},
    **{f"rnnkit.training.callbacks.xǁProgressǁon_eval_end__mutmut_{n}":
       "the split's value is a string, which isinstance(v, float) leaves out anyway"
       for n in (44, 45)},
    "rnnkit.training.callbacks.xǁEarlyStoppingǁon_eval_end__mutmut_2":
        "patience is a whole number: floor(x) >= patience exactly when x >= patience",
    **{f"rnnkit.training.callbacks.xǁProgressǁ__init____mutmut_{n}":
       "on_train_start sets the sample count and the clock again before anything reads them "
       "(a line needs _start, which only on_train_start sets)" for n in (2, 3)},
    **{f"rnnkit.training.callbacks.xǁProgressǁ__init____mutmut_{n}":
       "_timed is read only when there is a bar, and setting the bar up sets it"
       for n in (4, 5)},
    **{f"rnnkit.training.callbacks.xǁProgressǁon_train_start__mutmut_{n}":
       "no column shows the task's description (the name column is the text 'train')"
       for n in (38, 46, 47)},
    "rnnkit.training.callbacks.xǁProgressǁon_train_start__mutmut_11":
        "rich reads transient as a truth value: None is False",
    "rnnkit.training.callbacks.xǁProgressǁon_train_start__mutmut_18":
        "rich's Progress defaults to transient=False",
    **{f"rnnkit.data.text.x_{name}": "Python's codec names ignore case" for name in (
        "load_shakespeare__mutmut_11", "load_rt_polarity__mutmut_15", "read_parallel__mutmut_39")},
    "rnnkit.data.text.x_not_text__mutmut_3":
        "kind is read only as a truth value: no archive gives \"\" with None as with \"\"",
    "rnnkit.data.tokenizers.xǁSubwordTokenizerǁto_dict__mutmut_14":
        "Python's codec names ignore case",
    **{f"rnnkit.data.tokenizers.xǁSubwordTokenizerǁfit__mutmut_{n}":
       f"sentencepiece's default {what} is the same: the same pieces, ids and scores (only "
       "whether the model's trainer spec stores the field explicitly differs)"
       for n, what in ((48, "character_coverage 0.9995"), (54, "pad_piece '<pad>'"),
                       (55, "unk_piece '<unk>'"))},
    **{f"rnnkit.data.tokenizers.xǁSubwordTokenizerǁ{name}__mutmut_{n}":
       "require's extra defaults to EXTRAS['sentencepiece'], which is 'text'"
       for name, n in (("__init__", 4), ("__init__", 6), ("fit", 7), ("fit", 9))},
    **{f"rnnkit.data.tokenizers.x__joined__mutmut_{n}":
       "end is read only once tokens holds a match, and the first match sets it"
       for n in (2, 3, 4)},
    **{f"rnnkit.data.tokenizers.x__characters__mutmut_{n}":
       "alone is read only as not alone, and only once pieces holds a piece, whose making "
       "set it: its first value is never read, and None reads as False" for n in (2, 3, 21)},
    "rnnkit.data.tokenizers.xǁSubwordTokenizerǁfit__mutmut_4":
        "sentencepiece reads model type names in any case: 'BPE' trains the same model bytes",
    "rnnkit.data.tokenizers.xǁSubwordTokenizerǁfit__mutmut_71":
        "sentencepiece logs at ERROR level only for options fit never sets (differential "
        "privacy, custom normalisation rules) or for a processor without a model, which "
        "SubwordTokenizer never keeps: levels 2 and 3 print the same",
    "rnnkit.cells.mingru.x_linear_scan__mutmut_1":
        "chunks of 33 steps instead of 32: the state is carried exactly across chunk "
        "boundaries either way, so the same recurrence; only the last bits of rounding differ",
    "rnnkit.cells.mingru.x_linear_scan__mutmut_32":
        "torch.cat of a one-element list has that element's values",
    "rnnkit.layers.loop.x_run_stack__mutmut_53":
        "dropout >= 0: torch's dropout with p = 0 returns its input without a random draw",
    "rnnkit.layers.loop.x_run_stack__mutmut_64": "F.dropout's training defaults to True",
    "rnnkit.cells.rnn.xǁRNNCellǁgate_activations__mutmut_16":
        "recurrence returns (h_new, h_new): the output and the new state are one tensor",
    "rnnkit.cells.layernorm.xǁ_LayerNormCellǁreset_parameters__mutmut_1":
        "named_parameters only tests recurse for truth: None lists what False lists",
    "rnnkit.cells.layernorm.xǁ_LayerNormCellǁreset_parameters__mutmut_2":
        "the layer-norm cells have no child modules: recurse=True lists their own parameters",
    **{f"rnnkit.tasks.translation.x{name}":
       "require's extra defaults to EXTRAS['sacrebleu'], which is 'text'"
       for name in ("_bleu_chrf__mutmut_5", "_bleu_chrf__mutmut_7",
                    "ǁTranslationTaskǁextra_metrics__mutmut_3",
                    "ǁTranslationTaskǁextra_metrics__mutmut_5")},
    "rnnkit.tasks.translation.xǁTranslationTaskǁinfo__mutmut_2":
        "Task.info reads only ctx (the config); the model argument is unused",
    "rnnkit.tasks.translation_data.x_read_inputs__mutmut_6":
        "next()'s default is read only as a truth value (None is as false as 0); the line "
        "number is used only when a tab was found",
    **{f"rnnkit.models.attention.xǁ{name}":
       "nn.Linear reads bias as a truth value: None adds no bias, as False does"
       for name in ("BahdanauAttentionǁ__init____mutmut_6", "BahdanauAttentionǁ__init____mutmut_19",
                    "LuongAttentionǁ__init____mutmut_19")},
    "rnnkit.models.attention.xǁBahdanauAttentionǁforward__mutmut_3":
        "the cache is prepare(keys) by contract: computing it again gives the same numbers",
    "rnnkit.models.masking.x_masked_mean__mutmut_2":
        "a bool mask: x * mask promotes to x's dtype, and the count divides as a float",
    "rnnkit.models.masking.x_masked_softmax__mutmut_13": "float('-INF') is -inf",
    "rnnkit.kernels.scan.x_min_scan__mutmut_18":
        "the compiled scan serves CPU tensors only, and lengths reach it on the CPU",
    "rnnkit.layers.sequences.x_pack_for_fused__mutmut_4":
        "pack_padded_sequence reads enforce_sorted as a truth value: None sorts, as False does",
    **{f"rnnkit.layers.sequences.x_repack_like__mutmut_{n}":
       "the lengths are in sorted order here already: packing sorts nothing either way"
       for n in (18, 21, 22)},
    "rnnkit.layers.sequences.x_repack_like__mutmut_8":
        "on the CPU .to(None) and .to(out.device) are the same tensor",
    **{f"rnnkit.layers.sequences.x_to_batch__mutmut_{n}":
       "a packed batch is restored by repacking before batch_first or unbatched is read, "
       "and unbatched is read as a truth value" for n in (15, 16)},
    **{f"rnnkit.layers.sequences.x_repack_like__mutmut_{n}":
       "PackedSequence computes unsorted_indices from sorted_indices when it is not given"
       for n in (26, 30)},
    **{f"rnnkit.layers.stepping.x__checked__mutmut_{n}":
       "the guard only skips check_state for a state that passes it: calling it for a good "
       "state raises nothing either" for n in (28, 29)},
    "rnnkit.models.states.x_top_hidden__mutmut_9": "h is (B, H): dim +1 is dim -1",
    "rnnkit.diagnostics.flow.xǁGradientFlowRecorderǁ__exit____mutmut_4":
        "__enter__ set forward on every drop-in: pop always finds it",
    "rnnkit.diagnostics.flow.xǁGradientFlowRecorderǁ__init____mutmut_10":
        "_engine is set by __enter__ before anything reads it",
    "rnnkit.diagnostics.flow.xǁGradientFlowRecorderǁ_observe__mutmut_37":
        "h0 serves as a template of shape, dtype and device: an LSTM's c has h's",
    **{f"rnnkit.diagnostics.flow.xǁGradientFlowRecorderǁflow__mutmut_{n}":
       "the per-step norms only enter grad_norms, the norm over batch and units together: "
       "taking the units' norm first or the batch's gives the same" for n in (18, 19)},
    "rnnkit.diagnostics.flow.xǁ_Segmentǁstore__mutmut_5": "grad is (B, H): dim +1 is dim -1",
    "rnnkit.tasks.timeseries.scoring.x_baseline_bands__mutmut_18":
        "the horizon only passes range_origins' check that it covers the range",
    "rnnkit.tasks.timeseries.scoring.x_range_forecasts__mutmut_30":
        "a multistep range is exactly horizon long (at least and at most): a larger slice "
        "keeps the same steps",
    "rnnkit.tasks.timeseries.scoring.x_range_forecasts__mutmut_40": _NEGATIVE,
    "rnnkit.tasks.timeseries.scoring.x_figures__mutmut_21": "float('NAN') is nan",
    "rnnkit.tasks.timeseries.detector.x_labelled_scores__mutmut_16":
        "float() reads 'nan' in any case",
    "rnnkit.tasks.timeseries.detector.x_has_labels__mutmut_5":
        "labelled_windows is probed only for None (no labels), which any timestamps give",
    "rnnkit.tasks.timeseries.detector.x_evaluate_detection__mutmut_8":
        "None assigned into a bool array is stored as False",
    **{f"rnnkit.tasks.timeseries.detector.{name}": "astype(None) is astype(float64)"
       for name in ("x_feature_rows__mutmut_28", "x_raw_scores__mutmut_17",
                    "xǁStreamingDetectorǁ_forecast__mutmut_24")},
    **{f"rnnkit.tasks.timeseries.detector.{name}": _NEGATIVE
       for name in ("x_feature_rows__mutmut_42", "x_raw_scores__mutmut_19",
                    "xǁStreamingDetectorǁ_forecast__mutmut_27")},
    **{f"rnnkit.tasks.timeseries.detector.{name}":
       "k only shapes the forecast arrays (N, K, -1), whose axes after N bands_from flattens "
       "(the targets' ndim picks one sensor or K)"
       for name in ("x_raw_scores__mutmut_3", "x_raw_scores__mutmut_15",
                    "xǁStreamingDetectorǁ_forecast__mutmut_22")},
    "rnnkit.tasks.timeseries.detector.xǁStreamingDetectorǁ__init____mutmut_32":
        "one sensor's value as (1, 1) instead of (1,): feature_rows makes both one column",
    "rnnkit.tasks.timeseries.detector.xǁStreamingDetectorǁ__init____mutmut_5":
        "in_warmup describes the last point: update sets it before anything reads it",
    **{f"rnnkit.tasks.timeseries.detector.xǁStreamingDetectorǁ__init____mutmut_{n}":
       "a model without a mode: any default but 'direct' steps it through one_step"
       for n in (50, 56)},
    **{f"rnnkit.export.quantize.x_output_diffs__mutmut_{n}":
       "onnxruntime's CPU package has the CPU provider only: no list, another list or an "
       "unknown name all run on it (an unknown one after a printed fallback)"
       for n in (11, 13, 15, 16, 17)},
    **{f"rnnkit.export.quantize.x_int8_dynamic__mutmut_{n}":
       "the quantiser's default op list (onnxruntime 1.32's IntegerOpsRegistry) adds Attention "
       "and EmbedLayerNormalization, contrib ops rnnkit never exports, and Transpose, which it "
       "leaves float after a quantised MatMul (checked)" for n in (7, 14)},
    **{f"rnnkit.export.quantize.x_int8_dynamic__mutmut_{n}":
       f"quantize_dynamic's default {what} is the same" for n, what in (
           (9, "per_channel (False; None reads as False)"), (15, "weight_type (QInt8)"),
           (16, "per_channel (False)"))},
    "rnnkit.export.quantize.x_int8_share__mutmut_23": "the product of no dims is 1",
    "rnnkit.export.quantize.x_int8_share__mutmut_32":
        "every size negated leaves the share (a ratio of sums of them) as it is",
    **{f"rnnkit.export.onnx.x_{name}":
       "require's extra defaults to EXTRAS' entry for the top module: 'export' for onnx and "
       "onnxruntime" for name in (
           "exportable__mutmut_5", "exportable__mutmut_7", "export_model__mutmut_6",
           "export_model__mutmut_8", "export_model__mutmut_15", "export_model__mutmut_17",
           "run_onnx__mutmut_3", "run_onnx__mutmut_5", "_write_int8__mutmut_3",
           "_write_int8__mutmut_5")},
    **{f"rnnkit.export.onnx.x__write_int8__mutmut_{n}":
       "export_model has imported onnx (the same require) before it calls _write_int8: this "
       "extra's name is never shown" for n in (8, 9)},
    **{f"rnnkit.export.onnx.x__write_int8__mutmut_{n}":
       "max's default is for no outputs, and every graph has one" for n in (68, 70, 73)},
    **{f"rnnkit.export.onnx.x_run_onnx__mutmut_{n}":
       "onnxruntime's CPU package has the CPU provider only: no list, another list or an "
       "unknown name all run on it (an unknown one after a printed fallback)"
       for n in (16, 18, 19, 20, 21)},
    **{f"rnnkit.export.onnx.x__to_onnx__mutmut_{n}":
       "placeholders only declares the rnnkit domain to torch.onnx.export: Recur nodes "
       "export without it and expand_recurrences replaces them, the same operators and "
       "outputs either way (checked; torch's value names may differ by a counter); declared "
       "and unused, torch prints a C++ warning" for n in (6, 9, 10, 11, 19, 26)},
    **{f"rnnkit.export.onnx.x__trial_step__mutmut_{n}":
       "the trial trace is only run to see that it succeeds: its input and output names, "
       "dynamic axes and declared domains are never read" for n in (
           30, 31, 32, 34, 41, 43, 44, 45, 46, 47, 48, 49, 50, 51)},
    **{f"rnnkit.export.onnx.x__trial_step__mutmut_{n}":
       "input_projection maps any leading shape (..., I) -> (..., G) (the cell contract): "
       "the width is the last size of any of them" for n in (11, 13, 14)},
    "rnnkit.export.onnx.x__trial_step__mutmut_6":
        "zoneout 1.0 adds a Lerp (it exports) that still reads every output of the cell's "
        "traced ops: the trial fails or succeeds as with 0.0",
    "rnnkit.export.onnx.x__static_problem__mutmut_11": "getattr's default None is falsy as 0 is",
    "rnnkit.export.onnx.xǁ_LoopPlanǁsource__mutmut_6":
        "ExportLayer reads the flag as a truth value: None is False",
    **{f"rnnkit.tasks.timeseries.transform.xǁTransformǁfit__mutmut_{n}":
       "the scaler's statistics are NumPy reductions: float64, or exact integers for the "
       "min and max of integers, the same numbers either way" for n in (13, 15)},
    **{f"rnnkit.tasks.timeseries.transform.xǁTransformǁfrom_dict__mutmut_{n}":
       "bool(None) is False" for n in (20, 22)},
    **{f"rnnkit.tasks.timeseries.transform.xǁTransformǁscaled__mutmut_{n}":
       "Scaler.transform returns float64 for any input" for n in (4, 6)},
    **{f"rnnkit.tasks.timeseries.transform.xǁTransformǁscaled__mutmut_{n}":
       "a 1-D array's transpose is itself" for n in (8, 9)},
    "rnnkit.tasks.timeseries.transform.xǁTransformǁfeatures__mutmut_4":
        "full_like of a float array with None fills NaN",
    "rnnkit.tasks.timeseries.transform.xǁTransformǁfirst_origin__mutmut_9":
        "lag + window >= 1, so max(..., 1) is max(..., 0)",
    "rnnkit.tasks.timeseries.transform.x_train_origins__mutmut_6":
        "an arange from first to below it is empty and int64, as the zeros are",
    **{f"rnnkit.tasks.timeseries.replays.x_replay_origins__mutmut_{n}":
       "the last origin is the validation start, and the context refuses a validation range "
       "shorter than the horizon: the test-range half of the check cannot fire"
       for n in (9, 10, 11, 12)},
    "rnnkit.tasks.timeseries.replays.x_replay_config__mutmut_21":
        "the shape's first origin reads the season, differencing and level, not the scaler",
    "rnnkit.diagnostics.gates.x_states_read__mutmut_3":
        "a step's old and new states have one structure: either tells tuple from tensor",
    **{f"rnnkit.kernels.families.xǁElmanFamilyǁprepare__mutmut_{n}":
       "the one caller (bptt.py) passes store and whole" for n in (1, 2)},
    "rnnkit.kernels.families.xǁElmanFamilyǁstep_back__mutmut_5":
        "(h > 0) stays bool, and a bool tensor multiplies a float one as 1.0 / 0.0",
    **{f"rnnkit.tasks.timeseries.source.x__header__mutmut_{n}":
       "newline=None differs from '' only inside a quoted field holding a line break"
       for n in (2, 5)},
    "rnnkit.tasks.timeseries.source.x__header__mutmut_9": "Python's codec names ignore case",
    "rnnkit.tasks.timeseries.source.x_as_series__mutmut_15": _NEGATIVE,
    "rnnkit.tasks.timeseries.source.x_parse_times__mutmut_13":
        "NumPy reads a space between date and time as it reads a T",
    "rnnkit.tasks.timeseries.source.x_parse_times__mutmut_4":
        "lstrip('XX-XX') strips X as well as -, and a time label never starts with an X",
    **{f"rnnkit.tasks.timeseries.source.x_read_input__mutmut_{n}":
       "read_csv's default value columns are the same ones: every column but the time and "
       "the covariates (too few of them give the same width error)" for n in (32, 33)},
    "rnnkit.tasks.timeseries.source.x_read_input__mutmut_5":
        "'' and None both fall through to the configured columns",
    "rnnkit.tasks.timeseries.source.x_time_step__mutmut_15":
        "the median of the steps as float64 truncates to the same integer",
    **{f"rnnkit.tasks.timeseries.source.x__values__mutmut_{n}":
       "getattr's default is read only for a config without label_column (a forecast's): "
       "None and '' both mean no label; 'XXXX' differs only for a column named XXXX"
       for n in (4, 10)},
    "rnnkit.tasks.timeseries.source.x_as_series__mutmut_25":
        "NumPy takes any negative size as the one unknown dimension: reshape(-2) is "
        "reshape(-1)",
    "rnnkit.tasks.forecast.x_check_covariates_ahead__mutmut_12":
        "multistep needs the test range exactly horizon long (bounds), so it reads 0 points "
        "past the series: -1 does not raise either",
    **{f"rnnkit.tasks.forecast.x_check_covariates_ahead__mutmut_{n}":
       "the multistep message is never raised: a multistep test range is exactly horizon "
       "long (bounds), so its forecast reads no covariate past the series" for n in (26, 32)},
    "rnnkit.tasks.forecast.xǁForecastTaskǁinfo__mutmut_3":
        "Task.info reads only ctx (the config); the model argument is unused",
    **{f"rnnkit.tasks.timeseries.forecast_predictor.xǁForecastPredictorǁpredict__mutmut_{n}":
       "Forecaster and ForecastEnsemble always set covariates (0 without): getattr's default "
       "is never used" for n in (21, 24, 27)},
    "rnnkit.tasks.timeseries.forecast_predictor.xǁForecastPredictorǁstream__mutmut_8":
        "the 1 only stands in for the model's horizon (>= 1) in check_counts: 2 passes too",
    "rnnkit.tasks.timeseries.forecast_predictor.xǁForecastStreamǁpush__mutmut_43":
        "Series' covariates default to None: Series(t, values, covariates=None) is the same",
    "rnnkit.models.classifier.xǁSequenceClassifierǁcompute_loss__mutmut_21":
        "logits are (B, C): argmax over dim +1 is over dim -1",
    **{f"rnnkit.models.decoder.xǁDecoderǁforward__mutmut_{n}":
       "teacher forcing >= 1 takes every given input on either path: the loop of steps "
       "gives what the one call over all steps gives" for n in (1, 4, 5, 24, 25)},
    **{f"rnnkit.models.decoder.xǁDecoderǁforward__mutmut_{n}":
       "on the CPU torch.rand's device=None is x's device" for n in (28, 30)},
    "rnnkit.models.decoder.xǁDecoderǁforward__mutmut_32":
        "torch.rand equals teacher_forcing exactly with probability 0 (2^-24 at 0.0)",
    "rnnkit.models.decoder.xǁDecoderǁforward__mutmut_50":
        "feedback returns the inputs' dtype here (ids from argmax, frames as floats)",
    **{f"rnnkit.models.decoder.x{name}":
       "the cache is attention.prepare(keys) by contract: without it the attention "
       "computes the same" for name in (
           "ǁDecoderǁmemory__mutmut_1", "ǁDecoderǁmemory__mutmut_2",
           "ǁDecoderǁmemory__mutmut_8", "ǁDecoderǁmemory__mutmut_11",
           "ǁMemoryǁindex_select__mutmut_1", "ǁMemoryǁindex_select__mutmut_3",
           "ǁMemoryǁindex_select__mutmut_12", "ǁMemoryǁindex_select__mutmut_15",
           "ǁDecoderǁstep__mutmut_26", "ǁDecoderǁstep__mutmut_30")},
    "rnnkit.models.decoder.xǁDecoderǁstart__mutmut_6":
        "an LSTM's h and c have one shape: either gives the batch size",
    **{f"rnnkit.models.decoder.xǁDecoderǁstep__mutmut_{n}":
       "the tensors are (B, E): dim +1 is dim -1" for n in (9, 38)},
    **{f"rnnkit.models.language_model.xǁLanguageModelǁcompute_loss__mutmut_{n}":
       "on the CPU length_mask's device=None is the logits' device" for n in (26, 30)},
    "rnnkit.models.language_model.xǁLanguageModelǁcompute_loss__mutmut_47":
        "cross_entropy's ignore_index defaults to -100",
    **{f"rnnkit.models.classifier.xǁ_PooledModelǁforward__mutmut_{n}":
       "on the CPU length_mask's device=None is the output's device" for n in (10, 14)},
    "rnnkit.models.decoder.xǁDecoderǁ__init____mutmut_65":
        "nn.Linear reads bias as a truth value: None adds no bias, as False does",
    **{f"rnnkit.training.config_io.x__check_value__mutmut_{n}":
       "every config field's type is a string (postponed annotations), and a real type has "
       "a __name__: the fallback is never read" for n in (2, 6, 9, 12)},
    **{f"rnnkit.training.config_io.x__nearest__mutmut_{n}":
       "more close matches change nothing: only the first is named" for n in (8, 11)},
    **{f"rnnkit.training.config_io.x__set_paths__mutmut_{n}":
       "a train key was just set, so raw['train'] exists" for n in (32, 34)},
    "rnnkit.training.config_io.x_build_config__mutmut_5":
        "section None and '' both give no key prefix, and the top-level table is a dict",
    **{f"rnnkit.tasks.datafiles.x_path_field__mutmut_{n}":
       "path_field runs while the config classes are defined, at import, before mutmut "
       "switches a mutant on: no test can reach its mutants" for n in range(1, 9)},
    **{f"rnnkit.tasks.datafiles.x_split_items__mutmut_{n}":
       "any shuffle name but 'torch' takes Python's random" for n in (1, 2)},
    **{f"rnnkit.tasks.datafiles.x_fingerprint__mutmut_{n}":
       "the block size of the reads does not change the hash" for n in (21, 23, 24)},
    **{f"rnnkit.models.forecaster.x{name}": "the tensors are 2-D: dim +1 is dim -1"
       for name in ("ǁForecasterǁforward__mutmut_32", "ǁForecasterǁ_roll_out__mutmut_12")},
    **{f"rnnkit.models.forecaster.x{name}": "on the CPU device=None is x's device"
       for name in ("ǁForecasterǁ_roll_out__mutmut_32", "ǁForecasterǁ_roll_out__mutmut_35",
                    *(f"ǁForecasterǁforward__mutmut_{n}" for n in (48, 53, 56, 62, 64)))},
    "rnnkit.models.forecaster.xǁForecasterǁ_roll_out__mutmut_37":
        "torch.rand equals teacher_forcing exactly with probability 0",
    "rnnkit.models.forecaster.xǁForecasterǁforward__mutmut_69":
        "teacher forcing 0 with the truth given feeds back the model's own forecast at every "
        "step, as without it",
    "rnnkit.models.tagger.x_ctc_greedy_decode__mutmut_6":
        "without lengths each row is sliced to [None] * B: the whole row, as to T",
    **{f"rnnkit.models.tagger.xǁSequenceTaggerǁ_ctc_loss__mutmut_{n}":
       "torch.full with an int fill is int64 already" for n in (18, 21)},
    "rnnkit.models.tagger.xǁSequenceTaggerǁ_ctc_loss__mutmut_35":
        "ctc_loss's reduction defaults to 'mean'",
    **{f"rnnkit.models.tagger.xǁSequenceTaggerǁcompute_loss__mutmut_{n}":
       "on the CPU length_mask's device=None is the logits' device" for n in (35, 39)},
    "rnnkit.models.tagger.xǁSequenceTaggerǁcompute_loss__mutmut_56":
        "cross_entropy's ignore_index defaults to -100",
    "rnnkit.models.ensemble.x__member__mutmut_2":
        "fork_rng(devices=None) forks every CUDA device, as the list of all of them does",
    "rnnkit.models.ensemble.xǁClassifierEnsembleǁcombine__mutmut_8":
        "logits are (B, C): softmax over dim +1 is over dim -1",
    "rnnkit.models.ensemble.xǁClassifierEnsembleǁcompute_loss__mutmut_23":
        "logits are (B, C): argmax over dim +1 is over dim -1",
    **{f"rnnkit.diagnostics.flow.xǁGradientFlowǁratio__mutmut_{n}":
       "the norms are tensors: first / last is inf for last = 0 < first and nan for 0 / 0, "
       "as the branches give" for n in (12, 15)},
    **{f"rnnkit.diagnostics.flow.xǁGradientFlowǁratio__mutmut_{n}":
       "float() reads 'INF' and 'NAN' in any case" for n in (21, 26)},
    "rnnkit.models.forecast_outputs.xǁQuantileOutputǁsummary__mutmut_5":
        "torch.sort sorts along the last dimension by default",
    "rnnkit.models.masking.x_masked_softmax__mutmut_14":
        "scores are (B, S): dim +1 is dim -1",
    **{f"rnnkit.layers.torch_compat.x__packed_batch__mutmut_{n}":
       "only the batch size (dim 1), device and dtype of the stand-in input are read: its "
       "other sizes, packed, batch_first and unbatched are not (a packed input goes to torch "
       "as it is)" for n in (16, 17, 20, 21, 23, 24, 25, 31)},
    **{f"rnnkit.layers.torch_compat.xǁ{cls}ǁ_cell_factory__mutmut_{n}":
       "_make(cls, n, hidden_size=h) calls cls(n, h): the same as cls(n, hidden_size=h)"
       for cls, n in (("GRU", 10), ("LSTM", 19), ("LSTM", 25), ("RNN", 12))},
    **{f"rnnkit.layers.torch_compat.xǁ_DropInǁ_adopt__mutmut_{n}":
       "cells hold their parameters directly (no submodules): recurse makes no difference"
       for n in (3, 4)},
    "rnnkit.layers.torch_compat.xǁ_DropInǁ_engine_is_faster__mutmut_9":
        "a tensor's .data is the same values, device and dtype",
    **{f"rnnkit.layers.torch_compat.xǁ_DropInǁ_fused_hx__mutmut_{n}":
       "a learned initial state has the parameters' dtype, which torch's fused kernel "
       "requires the input to have" for n in (21, 24)},
    **{f"rnnkit.layers.torch_compat.xǁ_DropInǁforward__mutmut_{n}":
       "merging the two halves by 'concat' gives the output back" for n in (50, 51)},
    **{f"rnnkit.layers.torch_compat.xǁ_DropInǁ_merge_last__mutmut_{n}":
       "PackedSequence() derives unsorted_indices from sorted_indices when it is not given"
       for n in (6, 10)},
    **{f"rnnkit.reference.base.xǁReferenceRNNǁ_check_state__mutmut_{n}":
       "the state enters only float64 arithmetic, which promotes ints and float32 exactly"
       for n in (5, 7)},
    **{f"rnnkit.kernels.plans.x_params_key__mutmut_{n}":
       "any constant marks an inference tensor; the branch is reached when the parameters "
       "were made in inference mode, and then all of them are inference tensors"
       for n in (4, 5, 6)},
    "rnnkit.kernels.plans.x_plan_for__mutmut_8":
        "a cell's parameters share one dtype (nn.Module.to converts all of them)",
    "rnnkit.kernels.plans.xǁPlanǁ__init____mutmut_95":
        "eps is read by the compiled step of the layer-norm cells only, which all have one",
    **{f"rnnkit.kernels.plans.xǁPlanǁinitial__mutmut_{n}":
       "plans serve CPU tensors only: device=None is the CPU (no GPU to tell them apart)"
       for n in (8, 13)},
    **{f"rnnkit.kernels.plans.xǁPlanǁrun__mutmut_{n}":
       "lengths arrive as int64 (check_lengths) on the CPU, where plans run (no GPU here to "
       "put them elsewhere)" for n in (5, 6, 7, 8)},
    "rnnkit.kernels.plans.xǁPlanǁstep__mutmut_5":
        "without a cell state c is the empty tensor, and the compiled step leaves c_out alone",
    "rnnkit.tasks.predictor.x__finite_record__mutmut_20":
        "the top-level place is only tested for truth: None and '' are both false",
    **{f"rnnkit.tasks.predictor.x_open_checkpoint__mutmut_{n}":
       "on a CPU-only machine 'auto', 'cpu' and .to(None) all leave the model on the CPU"
       for n in (53, 60)},
    "rnnkit.tasks.predictor.x_open_checkpoint__mutmut_47":
        "training_state is only tested for truth: None and False are both false",
    **{f"rnnkit.tasks.predictor.x_read_arrays__mutmut_{n}":
       "np.load's allow_pickle defaults to False and is only tested for truth" for n in (10, 12)},
    "rnnkit.tasks.predictor.x_read_arrays__mutmut_48":
        "no NumPy dtype has kind 'X': the string still admits exactly f, i, u and b",
    "rnnkit.tasks.predictor.xǁPredictorǁexport__mutmut_22":
        "on a CPU-only machine .to(None) and .to(the run's device) leave the model where it is",
    **{f"rnnkit.tasks.base.xǁTaskǁevaluate__mutmut_{n}":
       "evaluate_model always passes state None to the loss" for n in (23, 27)},
    "rnnkit.tasks.predictor.xǁPredictorǁexport__mutmut_47":
        "ensure_ascii is only tested for truth: None and False are both false",
    **{f"rnnkit.models.base.xǁModelǁcheck_config__mutmut_{n}":
       "value_problem works the hints out itself when given None: the same hints, again"
       for n in (9, 11, 38, 41)},
    "rnnkit.models.base.x__range_problem__mutmut_2":
        "value_problem reads the problem for truth only: None and '' both mean none",
    "rnnkit.tasks.base.xǁTaskǁevaluate__mutmut_12":
        "on a CPU-only machine batches moved .to(None) stay on the CPU, the model's device",
    "rnnkit.export.layer.x_cell_step__mutmut_1": "every caller passes zoneout",
    "rnnkit.export.layer.x_cell_step__mutmut_15":
        "lerp(new, old, 0) is new, and a cell's output is the first part of its state",
    **{f"rnnkit.export.layer.x_recur_symbolic__mutmut_{n}":
       "the placeholder node is found by its domain and replaced by a Loop (whose outputs "
       "carry their own types) before the model is checked" for n in (23, 29)},
    **{f"rnnkit.export.layer.xǁExportLayerǁ_sequence__mutmut_{n}":
       "on a CPU-only machine device=None and the input's device are both the CPU"
       for n in (13, 15, 21)},
    **{f"rnnkit.export.layer.xǁExportLayerǁ_sequence__mutmut_{n}":
       "the state parts are (B, size): dim +1 is dim -1" for n in (56, 84)},
    **{f"rnnkit.export.layer.xǁExportLayerǁforward__mutmut_{n}":
       "a cell's init_state defaults to its parameters' device and dtype, which are the "
       "input's: export runs a float32 CPU copy of the model (graphs.prepared)"
       for n in (14, 15, 17, 18)},
    **{f"rnnkit.export.graphs.x_prepared__mutmut_{n}":
       "on a CPU-only machine .to(None) and .to('cpu') leave the copy on the CPU"
       for n in (2, 4)},
    "rnnkit.export.graphs.x_state_ports__mutmut_29":
        "a learned initial state is one row broadcast over the batch: row 0 of 1 or of 2",
    "rnnkit.export.graphs.xǁPortǁsample__mutmut_36":
        "torch.randint(256, shape) draws from [0, 256) too",
    **{f"rnnkit.export.loops.x__loop__mutmut_{n}":
       "the Loop body's graph name: nothing reads a subgraph's name" for n in (142, 143)},
    **{f"rnnkit.export.loops.x__loop__mutmut_{n}":
       "the body's declared shapes are only a hint: onnxruntime infers them, and the Loop's "
       "outputs keep the shapes torch gave the placeholder's" for n in (164, 175, 184, 195)},
    **{f"rnnkit.export.loops.x__loop__mutmut_{n}":
       "a node's name is a label: neither onnxruntime nor rnnkit reads the Loop's (ONNX "
       "allows none)" for n in (258, 263, 273, 274)},
    "rnnkit.export.loops.x__loop__mutmut_56":
        "a cell's step gives y and next in one dtype (float32: graphs.prepared)",
    **{f"rnnkit.export.loops.x_layer_norm_symbolic__mutmut_{n}":
       "LayerNormalization takes any Scale unidirectionally broadcastable to X (ONNX spec), "
       "and ones of X's whole shape scale by one too (onnxruntime 1.32 takes both)"
       for n in (14, 17)},
    **{f"rnnkit.export.loops.x_projected_width__mutmut_{n}":
       "input_projection maps any leading shape (..., I) -> (..., G) (the cell contract): "
       "the width is the last size of any of them, and of (1, G) shape[+1] is shape[-1]"
       for n in (5, 7, 8)},
    **{f"rnnkit.export.loops.x_{name}__mutmut_1":
       "placeholders is unused (kept for onnx.py's callers): its default changes nothing"
       for name in ("trace_to_bytes", "trace_to_onnx")},
    "rnnkit.export.loops.x_trace_to_bytes__mutmut_19":
        "torch.onnx.export (torch 2.13) takes the dynamo path only for dynamo=True: None is "
        "the TorchScript-based exporter too",
    **{f"rnnkit.export.loops.xǁ_Stepǁforward__mutmut_{n}":
       "the packed state is (B, S): dim +1 is dim -1" for n in (16, 22)},
    "rnnkit.tasks.base.xǁTaskǁevaluate__mutmut_6":
        "on a CPU-only machine batches moved .to(None) stay on the CPU, the model's device",
    "rnnkit.layers.torch_compat.xǁ_DropInǁ_fused_hx__mutmut_20":
        "a cell's init_state(device=None) is on the parameters' device, the input's",
    "rnnkit.layers.torch_compat.xǁ_DropInǁ_fused_hx__mutmut_23":
        "a cell's init_state(device=None) is on the parameters' device, the input's",
    **{f"rnnkit.tasks.runner.x__absolute_paths__mutmut_{n}":
       "a [task] table without a name is the adding task, which has no path fields: nothing "
       "to resolve either way" for n in (9, 11, 14, 15)},
    **{f"rnnkit.tasks.runner.x_{name}":
       "the best checkpoint holds its training state too (verified with the rest): reading it "
       "as well changes neither the rebuilt model nor model.json" for name in (
           "_best_model__mutmut_3", "_best_model__mutmut_5", "_best_model__mutmut_12",
           "_final_figures__mutmut_3", "_final_figures__mutmut_5", "_final_figures__mutmut_12")},
    "rnnkit.tasks.runner.x__best_model__mutmut_13":
        "on a CPU-only machine .to(None) and .to(the run's device) leave the model on the CPU",
    **{f"rnnkit.tasks.runner.x__prepare_dir__mutmut_{n}":
       "run_lock has made the run folder's parent already: parents= makes no difference"
       for n in (14, 16, 18)},
    **{f"rnnkit.tasks.runner.x__say__mutmut_{n}":
       "sys.stderr is line-buffered (Python >= 3.9): a printed line is flushed either way"
       for n in (3, 6, 7)},
    "rnnkit.tasks.runner.x__train_locked__mutmut_1":
        "train_run, the one caller, always passes validation_only: the default is never read",
    **{f"rnnkit.tasks.runner.x__train_locked__mutmut_{n}":
       "a DiagnosticsCallback with every = 0 records nothing and draws nothing (due() and "
       "on_train_end both require every > 0)" for n in (38, 39)},
    **{f"rnnkit.tasks.timeseries.detector.x_min_points__mutmut_{n}":
       "with train_size >= 1 and no test file ranges() does not read the length: any length "
       "gives the same ranges" for n in (8, 13, 15)},
    **{f"rnnkit.tasks.timeseries.detector.x_min_points__mutmut_{n}":
       "train_size in [1, 2) trains on 1 point (a count) or on >= n points (a fraction): no "
       "length fits either way" for n in (4, 5)},
    **{f"rnnkit.tasks.timeseries.detector.x_min_points__mutmut_{n}":
       "start is only a lower bound and the range ahead of it holds the shortest length: a "
       "lower start, an earlier or a later end finds the same first length (the same answer "
       "on 100000 random configs; test_min_points_matches_trying_every_length_on_a_grid)"
       for n in (35, 38, 43, 49, 52, 58, 59)},
    "rnnkit.tasks.timeseries.detector.x_min_points__mutmut_69":
        "train_end = int(n * train_size) < n for a fraction below 1: <= n is the same test",
    **{f"rnnkit.tasks.anomaly.xǁAnomalyPredictorǁ_record__mutmut_{n}":
       "Alarm.update returns Python bools: the array is bool without dtype=" for n in (28, 30)},
    **{f"rnnkit.tasks.anomaly.xǁAnomalyPredictorǁ_record__mutmut_{n}": _NEGATIVE
       for n in (40, 85)},
    **{f"rnnkit.tasks.anomaly.xǁAnomalyPredictorǁ_record__mutmut_{n}":
       "one sensor: a one-name list either way, and its column is \"value\" whatever the name"
       for n in (88, 89, 90)},
    **{f"rnnkit.tasks.anomaly.xǁAnomalyPredictorǁplot__mutmut_{n}":
       "a record's is_anomaly holds bools (never null): the array is bool without dtype="
       for n in (62, 64)},
    **{f"rnnkit.tasks.anomaly.xǁAnomalyStreamǁpush__mutmut_{n}":
       "without calendar features the detector never reads the time (NaT or None alike)"
       for n in (26, 27, 37)},
    "rnnkit.tasks.anomaly.xǁAnomalyStreamǁpush__mutmut_50":
        "one sensor: len(p.sensors) is 1",
    **{f"rnnkit.tasks.anomaly.xǁAnomalyStreamǁpush__mutmut_{n}":
       "pushed_value returns K sensors' values as a float64 array (K,) already"
       for n in (63, 65, 67)},
    "rnnkit.tasks.anomaly.xǁAnomalyStreamǁpush__mutmut_69": _NEGATIVE,
    "rnnkit.tasks.anomaly.xǁAnomalyStreamǁreset__mutmut_9":
        "StreamingDetector reads threshold only to make the default alarm, and one is given",
    **{f"rnnkit.tasks.anomaly.xǁAnomalyTaskǁcheck__mutmut_{n}":
       "a missing model.output is refused the same whatever the default: it is neither "
       "\"gaussian\" nor \"quantile\"" for n in (15, 17, 20, 21)},
    "rnnkit.tasks.anomaly.xǁAnomalyTaskǁinfo__mutmut_3":
        "Task.info reads only the context's config: the model argument is not used",
    "rnnkit.tasks.charlm.x__read__mutmut_4": "Python's codec names are case-insensitive",
    **{f"rnnkit.tasks.music.{name}__mutmut_{n}":
       "the float64 roll is cast to float32 by the assignment into the float32 tensor"
       for name, n in (("x_to_tensors", 15), ("xǁMusicPredictorǁ_score", 19))},
    **{f"rnnkit.data.music.x_transposed__mutmut_{n}":
       "no note crosses a row's edge when the shift is allowed: rolling the flat array moves "
       "only zeros between rows" for n in (21, 24)},
    "rnnkit.tasks.music.xǁMusicPredictorǁ_prime__mutmut_23":
        "with n == 0 and no prompt the source is cut to source[:0] either way",
    **{f"rnnkit.tasks.music.xǁMusicPredictorǁ_score__mutmut_{n}":
       "PianoRollLM is unidirectional: frames after a piece's end (more padding, or no "
       "lengths) cannot change its logits" for n in (12, 22, 24)},
    **{f"rnnkit.tasks.music.xǁMusicPredictorǁ{name}__mutmut_{n}":
       "on a CPU-only machine .to(None) / a Generator on device None stay on the CPU"
       for name, n in (("_score", 25), ("generate", 47))},
    "rnnkit.tasks.music.xǁMusicPredictorǁread_file__mutmut_16":
        "Predictor.read_file ignores its options for a non-text task",
    **{f"rnnkit.tasks.charlm.x_sample_text__mutmut_{n}":
       "on a CPU-only machine device=None and the model's device are both the CPU"
       for n in (3, 7, 10, 12)},
    **{f"rnnkit.tasks.charlm.xǁCharStreamǁ{name}__mutmut_{n}":
       "on a CPU-only machine device=None and the model's device are both the CPU"
       for name, n in (("__init__", 3), ("_read", 9), ("_read", 11), ("_read", 15),
                       ("_read", 17))},
    **{f"rnnkit.tasks.charlm.xǁCharLMTaskǁmake_splits__mutmut_{n}":
       "tok.encode gives Python ints: torch.tensor infers int64 (torch.long) anyway"
       for n in (76, 78, 86, 88, 99, 101)},
    **{f"rnnkit.tasks.charlm.xǁCharLMTaskǁmake_splits__mutmut_{n}":
       "rows ignores n when a width (task.window) is given" for n in (106, 111)},
    "rnnkit.tasks.charlm.xǁCharLMTaskǁmake_splits__mutmut_47":
        "without a saved vocabulary the tokenizer is fitted on the training text, which then "
        "holds no unknown character: checking it too warns of nothing",
    "rnnkit.tasks.charlm.x__first_bad_byte__mutmut_4": "Python's codec names are case-insensitive",
    **{f"rnnkit.tasks.charlm.x__first_bad_byte__mutmut_{n}":
       "bytes.count and bytes.rfind read a start of None as 0" for n in (8, 19)},
    "rnnkit.tasks.charlm.x__read__mutmut_8":
        "the longest magic number not_text knows is 6 bytes: the first 8 or 9 say the same",
    "rnnkit.tasks.charlm.xǁCharLMTaskǁinfo__mutmut_2":
        "Task.info reads only the context's config: the model argument is not used",
    **{f"rnnkit.tasks.charlm.xǁCharLMPredictorǁgenerate__mutmut_{n}":
       "top_p is <= 1 here (checked above), and sample_logits treats top_p=1.0 as None (off)"
       for n in (96, 97, 98)},
    **{f"rnnkit.tasks.captioning.x_caption_figures__mutmut_{n}":
       "without a tokenizer the texts are word ids and spaces, which 13a (sacrebleu's "
       "default) leaves as they are, as \"none\" does" for n in (50, 53, 55)},
    **{f"rnnkit.tasks.captioning.x_corpus_bleu__mutmut_{n}":
       "require falls back to EXTRAS, which gives sacrebleu the 'text' extra" for n in (5, 7)},
    "rnnkit.tasks.captioning.x_plot_attention__mutmut_42":
        "Axes.axis lower-cases its string argument",
    "rnnkit.tasks.captioning.x_plot_attention__mutmut_54":
        "images are read square (image_size x image_size): shape[0] == shape[1]",
    **{f"rnnkit.tasks.captioning.x_plot_attention__mutmut_{n}":
       "interpolate treats align_corners=None as False (no warning)" for n in (66, 70)},
    "rnnkit.tasks.captioning.x_plot_attention__mutmut_105":
        "plt.close(None) closes the current figure, which is fig (made just above)",
    "rnnkit.tasks.captioning.xǁCaptioningTaskǁinfo__mutmut_2":
        "Task.info reads only the context's config: the model argument is not used",
    "rnnkit.tasks.text_pretrain.x_pretrain_encoder__mutmut_82":
        "on a CPU-only machine .to(None) and .to(the encoder's device) leave the batch on the "
        "CPU",
    **{f"rnnkit.tasks.text_pretrain.x_pretrain_encoder__mutmut_{n}":
       "every parameter takes part in every step's loss, so backward writes a gradient for "
       "each: added to zeros or to None, the same gradient" for n in (83, 84)},
    "rnnkit.tasks.text_pretrain.x_pretrain_encoder__mutmut_92":
        "cos is even: the learning rate at step -k equals the one at step k",
    **{f"rnnkit.tasks.text_pretrain.xǁ_Headsǁloss__mutmut_{n}":
       "a 0-dim int64 zero plus the first direction's 0-dim float loss promotes to the loss's "
       "dtype: the same sum" for n in (31, 33)},
    **{f"rnnkit.tasks.speech_ctc.x_to_tensors__mutmut_{n}":
       "the labels are lists of Python ints, which torch.tensor makes int64 anyway (an empty "
       "list assigns nothing)" for n in (20, 22)},
    **{f"rnnkit.tasks.speech_ctc.xǁSpeechCTCTaskǁbatches__mutmut_{n}":
       "without an extra named, require looks jiwer's up in EXTRAS: 'audio'" for n in (3, 5)},
    **{f"rnnkit.tasks.speech_ctc.xǁSpeechCTCTaskǁextra_metrics__mutmut_{n}":
       "each digit occurs once in DIGITS: rindex is index" for n in (29, 31)},
    "rnnkit.tasks.speech_ctc.xǁSpeechCTCTaskǁinfo__mutmut_3":
        "Task.info reads only the context's config: the model argument is not used",
    "rnnkit.tasks.speech_ctc.x_spell__mutmut_2":
        "normalize_text tests lowercase for truth: None keeps case as False does",
    **{f"rnnkit.tasks.speech_ctc.xǁSpeechCTCTaskǁreport_sections__mutmut_{n}":
       "zip stops at the shorter list: 12 references and 13 transcripts (or the reverse) "
       "give the same 12 rows" for n in (5, 15)},
    "rnnkit.tasks.speech_ctc.xǁSpeechCTCTaskǁreport_sections__mutmut_8":
        "decode tests the beam width for truth: None decodes greedily as 0 does",
    **{f"rnnkit.tasks.confusion.x_confusion__mutmut_{n}":
       "on a CPU-only machine .to(None) and .to(the model's device) leave the batch on the CPU"
       for n in (2, 19)},
    "rnnkit.tasks.confusion.x_confusion__mutmut_24":
        "the logits are (B, C): argmax over dim 1 is argmax over dim -1",
    "rnnkit.tasks.confusion.x_confusion_plot__mutmut_1":
        "the default batch size does not change the counts: each recording is classified on "
        "its own length, in eval mode",
    **{f"rnnkit.tasks.speech_digits.x_split_clips__mutmut_{n}":
       "split_items shuffles with random.Random for any value but 'torch'"
       for n in (44, 49, 50)},
    "rnnkit.tasks.timeseries.forecast_predictor.xǁForecastStreamǁpush__mutmut_64":
        "Series' covariates default to None: Series(t, values, covariates=None) is "
        "Series(t, values)",
    **{f"rnnkit.cells.base.x_init_recurrent_weights__mutmut_{n}":
       "copy_ casts and moves what it copies: an identity made in float32 or on the CPU is "
       "copied into the block exactly (1s and 0s in any float dtype)" for n in (35, 36, 38, 39)},
    **{f"rnnkit.cells.base.xǁCellǁinit_state__mutmut_{n}":
       "on a CPU-only machine device None and the parameters' device are both the CPU; only "
       "a GPU could tell them apart (none was lent)" for n in (7, 9, 23)},
    **{f"rnnkit.data.audio.x_{name}__mutmut_{n}":
       "without an extra named, require looks librosa's and soundfile's up in EXTRAS: 'audio'"
       for name, n in (("features", 6), ("features", 8), ("read_audio", 5), ("read_audio", 7),
                       ("read_audio", 84), ("read_audio", 86), ("audio_frames", 3),
                       ("audio_frames", 5))},
    **{f"rnnkit.data.audio.x_read_audio__mutmut_{n}":
       "the samples end as float32 either way: 16-bit samples read as float64 and cast at the "
       "end equal those read as float32, resampled or not (checked to the bit on random "
       "stereo audio: tests/test_audio_mutants.py's test_resampling_runs_on_the_float32_"
       "samples); librosa keeps float32 input float32" for n in (48, 53, 99, 101)},
    "rnnkit.data.audio.x_connected_utterances__mutmut_55":
        "the floor noise is zero-mean Gaussian: adding or subtracting the same draws gives a "
        "signal of the same distribution (no test fixes the generator's exact samples)",
    "rnnkit.tasks.speech_digits.x_split_clips__mutmut_14":
        "unlisted is read only for root == cfg.data, and with task.data set it is assigned "
        "file_lists' answer first",
    "rnnkit.tasks.speech_digits.x_split_clips__mutmut_57":
        "with task.data set the one root is cfg.data; without it unlisted stays []: passing "
        "it for every root passes the same",
    "rnnkit.tasks.speech_digits.xǁSpeechDigitsTaskǁinfo__mutmut_2":
        "Task.info reads only the context's config: the model argument is not used",
    **{f"rnnkit.tasks.tuning.study.x__optuna__mutmut_{n}":
       "without an extra named, require looks optuna's up in EXTRAS: 'tune'" for n in (3, 5)},
    **{f"rnnkit.tasks.tuning.study.x_say__mutmut_{n}":
       "flush: stderr is line-buffered (Python 3.9+) and print ends the line"
       for n in (3, 6, 7)},
    "rnnkit.tasks.tuning.study.x_open_study__mutmut_3":
        "range(6): the fifth attempt (attempt 4) raises or returns, a sixth never starts",
    "rnnkit.tasks.tuning.study.xǁ_Workerǁ__init____mutmut_6":
        "a worker's signum is read only through `or`: None is falsy like 0",
    "rnnkit.tasks.tuning.study.x__run_processes__mutmut_34":
        "multiprocessing's Process always has pid (None before start): the default is unread",
    "rnnkit.tasks.tuning.study.x__run_processes__mutmut_22":
        "copy.copy: spawn pickles each process's args, so every worker gets its own Tuning "
        "either way",
    **{f"rnnkit.tasks.tuning.study.x_trial_line__mutmut_{n}":
       "the trials are only read: Optuna's copies (deepcopy true) hold the same states"
       for n in (6, 8)},
    **{f"rnnkit.tasks.tuning.study.xǁ_Workerǁobjective__mutmut_{n}":
       "a TrialPruned's message goes only to Optuna's INFO log, which _optuna silences"
       for n in (63, 64, 78)},
    "rnnkit.tasks.tuning.study.x__open_study__mutmut_43":
        "SeedSequence.generate_state(2)[0] is generate_state(1)[0]: the first word of the "
        "same stream",
    **{f"rnnkit.tasks.tuning.report.x_draw_plots__mutmut_{n}":
       "the extra only names itself in MissingExtraError's message, which draw_plots "
       "swallows (and EXTRAS gives optuna's: 'tune')" for n in (4, 6, 9, 10)},
    "rnnkit.tasks.tuning.report.x_draw_plots__mutmut_67":
        "plt.close(None) closes the current figure, which is fig (Optuna's plot function "
        "made it just above)",
    **{f"rnnkit.tasks.tuning.report.x_{name}":
       "the trials are only read: Optuna's copies (deepcopy true) hold the same figures"
       for name in ("write_outputs__mutmut_2", "write_outputs__mutmut_4", "_wide__mutmut_2",
                    "_wide__mutmut_4")},
    # the time-series report's plots: what is drawn is tested (data, labels, spans, scales,
    # the bands' translucency); how it looks is not
    **{f"rnnkit.tasks.timeseries.report.x_{name}__mutmut_{n}": reason
       for name, numbers, reason in (
           ("plot_detection", (17, 22, 28, 30, 31, 32), "cosmetic: the figure's size"),
           ("plot_forecast", (6, 11, 15, 17, 18, 19), "cosmetic: the figure's size"),
           ("plot_detection", (96, 97, 101, 102, 105, 112, 113, 114, 118, 119, 120, 124, 125,
                               146, 151, 154, 155, 160, 161, 165, 166, 170, 179, 184, 186,
                               191),
            "cosmetic: a line's or the alarm dots' colour, width, size or drawing order (the "
            "data, labels, the threshold's dashes and distinct score colours are tested)"),
           ("plot_forecast", (29, 30, 34, 35, 38, 45, 46, 50, 51, 55, 102, 103, 107, 108, 114,
                              118),
            "cosmetic: a line's colour or width, the grid's alpha"),
           ("plot_detection", (48, 53, 73, 74, 78, 79),
            "cosmetic: a shaded span's colour or alpha (drawn under the lines; the spans and "
            "their labels are tested)"),
           ("plot_detection", (128, 129, 130, 131, 134, 194, 195, 196, 197, 200),
            "cosmetic: the legend's place or font size (its entries are tested)"),
           ("plot_forecast", (123, 124, 125, 126, 131),
            "cosmetic: the legend's place or font size (its entries are tested)"),
           ("plot_forecast", (61, 67, 82, 88),
            "fill_between's first colour of the axes' cycle is C0 (the explicit colours drawn "
            "before take none from it): the bands keep the forecast's colour (tested)"),
           ("plot_forecast", (10,), "subplots' ncols defaults to 1"),
           ("plot_detection", (21,), "subplots' ncols defaults to 1"),
           ("plot_forecast", (7,), "squeeze=None is falsy: the same as squeeze=False"),
           ("plot_detection", (11,), _NEGATIVE),
           ("detection_section", (7,), _NEGATIVE),
           ("detection_section", (24,), "None stored in a bool array is False"))
       for n in numbers},
    # the diagnostics plots: the same split between what is drawn and how it looks
    **{f"rnnkit.diagnostics.plots.x_{name}__mutmut_{n}": reason
       for name, numbers, reason in (
           ("plot_gradient_flow", (11, 16, 20, 21, 22, 23, 24), "cosmetic: the figure's size"),
           ("plot_gate_saturation", (14, 19, 23, 24, 25, 26, 27),
            "cosmetic: the figure's size"),
           ("plot_layer_grad_norms", (2, 3, 4), "cosmetic: the figure's size"),
           ("plot_loss", (4, 5, 6), "cosmetic: the figure's size"),
           ("plot_spectral_radius", (2, 3, 4), "cosmetic: the figure's size"),
           ("plot_gradient_flow", (13, 18), "cosmetic: the layout engine (spacing)"),
           ("plot_gate_saturation", (16, 21), "cosmetic: the layout engine (spacing)"),
           ("plot_gradient_flow", (12,), "squeeze=None is falsy: the same as squeeze=False"),
           ("plot_gate_saturation", (15,), "squeeze=None is falsy: the same as squeeze=False"),
           ("plot_gradient_flow", (15,), "subplots' ncols defaults to 1"),
           ("plot_gate_saturation", (18,), "subplots' ncols defaults to 1"),
           ("_lines", (34,), "cosmetic: the legend's font size (its entries are tested)"),
           ("plot_gate_saturation", (92, 94, 95, 98),
            "cosmetic: the legend's font size or columns (its entries are tested)"),
           ("plot_spectral_radius", (14, 16, 18, 20, 23, 25),
            "cosmetic: the unit line's colour or width (its value and dashes are tested)"),
           ("plot_gradient_flow", (50, 52),
            "log10 of an int array is float too, and the grid is float"),
           ("plot_gradient_flow", (59,), "None stored in a float array is NaN"),
           ("plot_gradient_flow", (63,),
            "imshow masks -inf (log10 of 0) as it masks NaN: a zero norm is blank either way"),
           ("plot_gradient_flow", (74, 80),
            "imshow's default extent with origin='lower' is the same (-0.5, w - 0.5, -0.5, "
            "n - 0.5)"),
           ("plot_gradient_flow", (75, 81), "cosmetic: viridis is matplotlib's default map"),
           ("plot_gradient_flow", (87,), "matplotlib reads interpolation names in any case"),
           ("plot_gradient_flow", (124, 126),
            "colorbar steals room from the image's own axes when ax is None (tested: each "
            "bar beside its panel)"),
           ("draw_plots", (13,), "written is [] just before: = and += give the same list"))
       for n in numbers},
}

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", None: "not checked"}


def short_name(module: str) -> str:
    return Path(module).stem


def resolve(names: list[str]) -> list[str]:
    """Module paths for names given as paths or stems ("metrics", "rnnkit/models/beam.py")."""
    if not names:
        return list(MODULES)
    out = []
    for name in names:
        hits = [m for m in MODULES if m == name or short_name(m) == name]
        if not hits:
            raise SystemExit(f"unknown module {name!r}; known: {', '.join(MODULES)}")
        out += hits
    return out


def prepare(module: str, tests: list[str], work: Path, worktree: bool) -> None:
    """A scratch copy of the package (as committed at HEAD, or the working tree's with
    ``worktree``) and of the working tree's tests, whose pyproject mutates only ``module``."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "build")
    if worktree:
        shutil.copytree(ROOT / "rnnkit", work / "rnnkit", ignore=ignore)
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD", "rnnkit"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    text = (ROOT / "pyproject.toml").read_text()
    head, sep, tail = text.partition("[tool.mutmut]")
    section, rest = (tail.split("\n[", 1) + [""])[:2] if sep else ("", "")
    own = ("only_mutate", "pytest_add_cli_args_test_selection")
    keep = [ln for ln in section.splitlines() if ln.split("=")[0].strip() not in own]
    merged = "\n".join(["[tool.mutmut]", *[ln for ln in keep if ln.strip()],
                         f"only_mutate = {json.dumps([module])}",
                         f"pytest_add_cli_args_test_selection = {json.dumps(tests)}"])
    rest = "\n[" + rest if rest else ""
    (work / "pyproject.toml").write_text(head + rest + "\n" + merged + "\n")


def run_mutmut(work: Path, minutes: float, children: int) -> float:
    """``mutmut run`` in ``work``, stopped with Ctrl-C after ``minutes`` (results so far are
    kept: mutmut saves each verdict as it comes)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    log = open(work / "mutmut.log", "w")
    start = time.time()
    proc = subprocess.Popen(["mutmut", "run", "--max-children", str(children)], cwd=work,
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        proc.wait(timeout=minutes * 60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.close()
    return time.time() - start


def verdicts(work: Path, module: str) -> dict[str, int | None]:
    meta = work / "mutants" / (module + ".meta")
    if not meta.exists():
        tail = (work / "mutmut.log").read_text()[-3000:]
        raise SystemExit(f"mutmut produced no results for {module}; log tail:\n{tail}")
    return json.loads(meta.read_text())["exit_code_by_key"]


def diff(work: Path, name: str) -> str:
    out = subprocess.run(["mutmut", "show", name], cwd=work, capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln[:1] in "+-" and ln[:3] not in "+++---"]
    return " | ".join(ln.strip() for ln in lines) or out.stdout.strip()[-300:]


def summarise(module: str, codes: dict[str, int | None], seconds: float) -> dict:
    counts = {k: 0 for k in ("killed", "survived", "timeout", "equivalent", "not checked")}
    survivors = []
    for name, code in sorted(codes.items()):
        status = STATUS.get(code, "suspicious")
        if name in EQUIVALENT:
            counts["equivalent"] += 1
        elif status in ("survived", "no tests"):
            counts["survived"] += 1
            survivors.append((name, status))
        elif status == "killed":
            counts["killed"] += 1
        elif status == "timeout":
            counts["timeout"] += 1
        elif status in ("skipped",):
            counts["equivalent"] += 1
        elif status == "not checked":
            counts["not checked"] += 1
        else:  # segfault, suspicious: the test run broke, i.e. the mutant was noticed
            counts["killed"] += 1
    scored = counts["killed"] + counts["survived"]
    score = counts["killed"] / scored if scored else float("nan")
    return dict(module=module, seconds=seconds, score=score, survivors=survivors, **counts)


def table(rows: list[dict]) -> str:
    head = ("| module | mutants | killed | survived | timeout | equivalent | not checked "
            "| score | minutes |\n|---|---|---|---|---|---|---|---|---|")
    cols = ("killed", "survived", "timeout", "equivalent", "not checked")
    body = [f"| {r['module']} | {sum(r[k] for k in cols)} | "
            + " | ".join(str(r[k]) for k in cols)
            + f" | {100 * r['score']:.1f}% | {r['seconds'] / 60:.1f} |" for r in rows]
    return "\n".join([head, *body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="module paths or stems (default: all)")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="bound on each module's mutmut run (unreached mutants: not checked)")
    parser.add_argument("--children", type=int, default=1,
                        help="mutants tested in parallel (1 leaves a core free on 2 cores)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rnnkit-mutation"),
                        help="where the scratch copies go (one folder per module)")
    parser.add_argument("--worktree", action="store_true",
                        help="mutate the working tree's package instead of HEAD's (HEAD: edits "
                        "in progress elsewhere in the tree do not leak into the run)")
    parser.add_argument("--no-diffs", action="store_true", help="list survivors without diffs")
    parser.add_argument("--list", action="store_true", help="print MODULES and exit")
    args = parser.parse_args(argv)
    if shutil.which("mutmut") is None:
        raise SystemExit("mutmut not found: pip install 'rnnkit[dev]'")
    modules = resolve(args.modules)
    if args.list:
        for m in modules:
            print(m, " ".join(MODULES[m]))
        return 0
    rows = []
    for module in modules:
        work = args.workdir / short_name(module)
        prepare(module, MODULES[module], work, args.worktree)
        print(f"# {module}: mutmut run (up to {args.minutes:g} min) in {work}", flush=True)
        seconds = run_mutmut(work, args.minutes, args.children)
        row = summarise(module, verdicts(work, module), seconds)
        rows.append(row)
        print(table([row]), flush=True)
        for name, status in row["survivors"]:
            text = "" if args.no_diffs else "  " + diff(work, name)
            print(f"  {status}: {name}{text}", flush=True)
    print()
    print(table(rows))
    equivalents = [n for n in EQUIVALENT if any(n.startswith(
        m.replace("/", ".")[:-3]) for m in modules)]
    for name in equivalents:
        print(f"  equivalent: {name}: {EQUIVALENT[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
