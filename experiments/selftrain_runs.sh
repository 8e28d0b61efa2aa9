#!/bin/bash
# selftraining-without-parallel.md Tables 4-6 with the offline e5-small as the mPLM: CoNLL NER en -> de/es/nl and
# MTOP intents en -> de, one sweep per target (+experiment=selftrain_ablations: zero-shot fine-tuning, BTF only,
# self-training only, the full method, - AT, - VM). Run from the repository root (THREADS=2 for two cores;
# DISTILLX overrides the command, e.g. to run a code snapshot; LIMIT caps every split per language, EPOCHS the
# trainer's epochs, LR the mPLM's learning rate, SOFT_EPOCHS / HARD_EPOCHS the self-training steps' epochs, the
# paper's 10 by default; ROWS a subset of the rows, e.g. ROWS=finetune,no_st,full, and to add rows to a sweep later
# list its earlier ones first, in their order, as its jobs are numbered (ROWS=finetune,no_st,full,no_btf,no_at,no_vm);
# LANGUAGES the CoNLL targets (LANGUAGES= none); MTOP=0 skips MTOP; SEEDS more seeds of the same rows, e.g.
# SEEDS=1,2, into <sweep>_seeds beside the seed-42 sweep, for the tables' spread over seeds; JOB=<n> with one row in
# ROWS runs that row alone as job n of its sweep, i.e. its place in the full ROWS list: to add a row to a sweep whose
# earlier jobs' outputs are gone, e.g. a new checkout, whose RESULTS.md subsection the tables keep and add it to).
# e5-small is slow to start on NER: fine-tuned on 2,000 CoNLL sentences for 3 epochs (190 steps) at 1e-4 it reaches
# 22.5 % English dev F1, at 3e-4 it collapses to "no entity"; on all 14,041 sentences at 1e-4 it reaches 25.7 / 88.2
# / 91.2 % after epochs 1-3 (~280 s an epoch, 1 thread). Hence the defaults: every sentence, LR 1e-4 (the paper's
# 3e-5 is for mBERT over more steps), 3 epochs.
# Soft steps on a small target text need more than the paper's 10 epochs (it had 60k sentences): on CoNLL de's 2.6k,
# 10 epochs leave round 2's student at 62 % dev agreement with its teacher and 33 % test F1, 30 epochs at 90 % and
# 62 % (SOFT_EPOCHS=30; RESULTS.md has both).
# Resumable: rerun it; the BTF model, the fine-tuned model and shared steps are trained once.
# The CoNLL es / nl and MTOP stages in RESULTS.md were built by commit 65cb5c5's code (selftrain_tables.py's
# EQUIVALENT_CODE says why it computes what the current code does); stage keys name the code, so to add rows to
# those sweeps on their cached stages run that code: git archive 65cb5c5 src conf | tar -x -C /tmp/snap, then
# DISTILLX="env PYTHONPATH=/tmp/snap/src .venv/bin/python -m distillx.cli".
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1
DISTILLX=${DISTILLX:-.venv/bin/distillx}
E5="method=selftrain mplm=e5_small mplm.name_or_path=$HOME/.cache/distillx/mplm/e5-small trainer=paper trainer.patience=null trainer.progress=false trainer.threads=${THREADS:-1} trainer.epochs=${EPOCHS:-3} split.limit=${LIMIT:-null} mplm.lr=${LR:-1e-4} method.step_trainer.soft.epochs=${SOFT_EPOCHS:-10} method.step_trainer.hard.epochs=${HARD_EPOCHS:-10}"
mkdir -p outputs/selftrain
if [ -n "${JOB:-}" ] && [[ -z "${ROWS:-}" || "$ROWS,${SEEDS:-}" == *,*,* ]]; then
  echo "JOB=$JOB runs one job: name one row in ROWS (and at most one seed in SEEDS)" >&2; exit 2
fi
run() {  # name, then the dataset's overrides
  local name=$1; shift
  if [ -n "${SEEDS:-}" ]; then name=${name}_seeds; set -- "$@" seed="$SEEDS"; fi
  $DISTILLX --multirun +experiment=selftrain_ablations $E5 ${ROWS:+"+st_row=$ROWS"} "$@" ${JOB:+hydra.sweep.subdir=$JOB} hydra.sweep.dir=outputs/selftrain/$name > outputs/selftrain/$name${JOB:+.$JOB}.log 2>&1
}
for lang in ${LANGUAGES-de es nl}; do
  run conll_$lang dataset=conll dataset.path=../shared/data/conll language=$lang
done
[ "${MTOP:-1}" = 0 ] || run mtop_de dataset=mtop dataset.path=../shared/data/mtop dataset.task=intent language=de
echo done > outputs/selftrain/DONE
