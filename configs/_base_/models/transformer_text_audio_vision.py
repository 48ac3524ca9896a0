# One transformer encoder per modality over the 50 word-aligned steps
# (mmdr's SequenceTransformerEncoder: torch.nn.TransformerEncoder, a linear
# projection to 30 dims, sinusoidal positions, mean pooling over the steps
# that are not padding), concatenation fusion, a linear classifier. Sizes
# and dropouts are MulT's main.py defaults (Tsai et al., ACL 2019): d 30,
# 5 heads, 5 layers, dropout 0.1. The input widths are those of MulT's
# mosi_data.pkl (text 300 GloVe, audio 5 COVAREP, vision 20 Facet); other
# versions of the file are caught before training with the setting to use.
feature_widths = dict(text=300, audio=5, vision=20)
model = dict(
    type='MultiModalRecognizer',
    encoders={
        m:
        dict(
            type='SequenceTransformerEncoder',
            in_channels=width,
            embed_dims=30,
            num_layers=5,
            num_heads=5,
            dropout=0.1,
            max_len=50,
            pooling='mean')
        for m, width in feature_widths.items()
    },
    fusion=dict(type='ConcatFusion'),
    cls_head=dict(type='LinearClsHead', num_classes=2, topk=(1, )))
