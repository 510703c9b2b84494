"""Models: encoders, attention scorers/normalisers and the attention classifier."""

from attnjax.models.attention import (ATTENTIONS, NORMALIZERS, AdditiveAttention, DeepAttention,
                                      ScaledDotProductAttention, gumbel_softmax, make_attention,
                                      masked_softmax, normalize)
from attnjax.models.classifier import (AttentionClassifier, Aux, check_params, init_params,
                                       model_from_dict, model_to_dict)
from attnjax.models.seeds import (SEED_AXIS, is_stacked, map_seeds, num_seeds, select_seed,
                                   split_over_seeds, stack_seeds)
from attnjax.models.encoders import (ENCODERS, LSTM_ENCODERS, CNNEncoder, EmbeddingEncoder,
                                     LSTMEncoder, LSTMState, flip_sequences, lstm_cell,
                                     make_encoder, sequence_mask)
