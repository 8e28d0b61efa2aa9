#!/bin/bash
# kd-limitations-zero-shot.md Tables 4/5 with the offline e5-small as the teacher mPLM and a 4-layer small encoder
# built from it: MultiATIS++ and MTOP intents, WikiANN NER, one sweep each (+experiment=kd_limits: teacher, vanilla,
# vanilla + ft-distill, pre-training-distilled, pre-training-distilled + ft-distill). Languages as in the paper's
# tables (pre-training text: the paper's 8 languages where the dataset has them). Run from the repository root
# (THREADS=2 for two cores; DISTILLX overrides the command, e.g. to run a code snapshot). Resumable: rerun it.
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1
DISTILLX=${DISTILLX:-.venv/bin/distillx}
E5="size=paper mplm=e5_small mplm.name_or_path=$HOME/.cache/distillx/mplm/e5-small trainer=paper trainer.patience=null trainer.progress=false trainer.threads=${THREADS:-1} trainer.epochs=3"
PRE="lean.pretrain.max_per_language=${PER_LANGUAGE:-2000} lean.pretrain.trainer.epochs=${PRETRAIN_EPOCHS:-2}"
mkdir -p outputs/kd_limits
run() {  # name, then the dataset's overrides
  local name=$1; shift
  $DISTILLX --multirun +experiment=kd_limits $E5 $PRE "$@" hydra.sweep.dir=outputs/kd_limits/$name > outputs/kd_limits/$name.log 2>&1
}
run atis dataset=multiatis dataset.path=../shared/data/multiatis_pp dataset.task=intent \
  "++method.zero_shot=[fr,de,es,pt,hi]" "lean.pretrain.languages=[en,fr,de,es,pt,hi,ja]"
run mtop dataset=mtop dataset.path=../shared/data/mtop dataset.task=intent language=de \
  "++method.zero_shot=[fr,de,es,hi]" "lean.pretrain.languages=[en,fr,de,es,hi]"
run wikiann dataset=wikiann dataset.path=../shared/data/wikiann \
  "++method.zero_shot=[fr,de,es,pt,it,hi]" "lean.pretrain.languages=[en,fr,de,es,pt,it,hi,ja]"
echo done > outputs/kd_limits/DONE
