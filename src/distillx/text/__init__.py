"""Text processing shared by every model: word segmentation, small-model sub-word vocabularies and the
alignment of word-level labels to sub-word tokens.

Labels live on words (distillx's own segmentation), models see sub-words; keeping the two joined here means
the teacher (mPLM tokenizer) and the students (per-language BPE) are fed through one code path.
"""
