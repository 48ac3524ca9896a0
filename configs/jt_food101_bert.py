# jt_food101.py with BalanceBenchmark's text encoder: BERT (its pooled
# output) on the cleaned text tokenised to 40 tokens, through Hugging Face
# transformers, an optional dependency (pip install transformers). The
# model and tokenizer are read from a local folder only, never downloaded:
# save bert-base-uncased there once (tools/data/food101/README.md) or set
# bert_path. BERT trains at 1/100 of the rate (1e-5), the rest at 1e-3.
_base_ = ['./jt_food101.py']
bert_path = 'checkpoints/bert-base-uncased'
text_step = dict(type='HFTokenize', pretrained=bert_path, max_length=40)
train_pipeline = [{{_base_.visual_train}}, text_step,
                  dict(type='PackMultiModalInputs')]
test_pipeline = [{{_base_.visual_test}}, text_step,
                 dict(type='PackMultiModalInputs')]
train_dataloader = dict(dataset=dict(vocab_file=None, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(vocab_file=None, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(vocab_file=None, pipeline=test_pipeline))
model = dict(
    data_preprocessor=dict(
        preprocessors=dict(
            # Token ids and masks stay integers.
            text=dict(type='ActionDataPreprocessor', to_float32=False))),
    encoders=dict(
        text=dict(
            _delete_=True,
            type='HFTextEncoder',
            pretrained=bert_path,
            pooling='pooler')))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'encoders.text': dict(lr_mult=0.01)}))
