#!/bin/bash
# MultiKD / MBLM comparison on XNLI (dev carved into train/dev/test) and MultiATIS++, e5-small student.
# Run from the repository root: experiments/mblm_runs.sh (THREADS=2 to use two cores; DISTILLX overrides the command,
# e.g. to run a code snapshot). Resumable: rerun it; finished stages are skipped, unfinished ones continue from
# their last epoch. The ablations run 2 epochs (Table 3: 5 on XNLI) to fit a 2-core session; their "full" row is
# trained at that length too, so the ablation table compares like with like.
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1
DISTILLX=${DISTILLX:-.venv/bin/distillx}
E5="mplm=e5_small mplm.name_or_path=$HOME/.cache/distillx/mplm/e5-small trainer=paper trainer.patience=null trainer.progress=false trainer.threads=${THREADS:-1}"
X="dataset=xnli dataset.path=../shared/data/xnli"
A="dataset=multiatis dataset.path=../shared/data/multiatis_pp dataset.task=intent"
mkdir -p outputs/mblm
$DISTILLX --multirun +experiment=mblm_table3 $X $E5 trainer.epochs=5 hydra.sweep.dir=outputs/mblm/xnli_table3 > outputs/mblm/xnli_table3.log 2>&1
$DISTILLX --multirun +experiment=mblm_table3 $A $E5 trainer.epochs=3 hydra.sweep.dir=outputs/mblm/atis_table3 > outputs/mblm/atis_table3.log 2>&1
$DISTILLX --multirun +experiment=mblm_ablations $X $E5 trainer.epochs=2 hydra.sweep.dir=outputs/mblm/xnli_ablations > outputs/mblm/xnli_ablations.log 2>&1
echo done > outputs/mblm/DONE
