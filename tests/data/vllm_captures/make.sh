#!/bin/sh
# Re-record every capture here with the real vLLM 0.33 scheduler (the oracle venv).
# Run from the project root: sh tests/data/vllm_captures/make.sh
set -e
PY=${ORACLE_PYTHON:-$HOME/.cache/vllm-oracle/bin/python}
OUT=tests/data/vllm_captures
for sc in a_hello a2_hello_caching_on b_threshold2_lone b2_threshold2_with_companion \
          c_two_concurrent d_memory_pressure d2_preempt_self_and_no_admission \
          e_max_num_seqs_1 g_no_chunked_prefill_hol g2_no_chunked_prefill_preempt \
          h1_prefix_shared_system_prompt i2_free_order_caching_on_eviction \
          p2_priority_preempt_scheduled_victim p3_priority_mixed_queue q_eos_and_stop_tokens \
          r_max_model_len_stop s_preempt_resume_prefix_rehit t_late_arrivals_idle_steps \
          u4_finish_all_requests u5_cache_salt_tenants v5_compat_length_capped_and_abort \
          v7_compat_stress_threshold z2_stress_fcfs_cache z3_stress_priority_nocache; do
    PYTHONPATH=. MINI_ENGINE_CAPTURE_TOKENS=1 "$PY" tests/capture/capture_driver.py \
        tests/engine/golden/scenarios/$sc.json $OUT/$sc.jsonl
done
# The async scheduler (vLLM's default), driven in lockstep; and one without token ids.
PYTHONPATH=. MINI_ENGINE_CAPTURE_TOKENS=1 "$PY" tests/capture/capture_driver.py --async \
    tests/engine/golden/scenarios/d_memory_pressure.json $OUT/async_d_memory_pressure.jsonl
PYTHONPATH=. MINI_ENGINE_CAPTURE_TOKENS=0 "$PY" tests/capture/capture_driver.py \
    tests/engine/golden/scenarios/z1_stress_fcfs_nocache.json $OUT/notokens_z1_stress_fcfs_nocache.jsonl
