

def test_the_last_value_of_a_dictionary_is_summarized_like_the_others():
    """The pruning bounds once counted a sentinel byte in the last value of each chunk of the
    dictionary (one phantom distinct character, -1 repeats), so a pair with that value could be
    pruned below a threshold it reaches: ALEZ and ALEX (Jaro-Winkler 0.883) graded 0 at 0.88
    when they were the only two values. Found by the recordlinkage cross-check on the dated world."""
    import numpy as np
    import pyarrow as pa

    from sim.compare.comparisons import _Encoded, jaro_winkler

    for left, right in ((["ALEZ"], ["ALEX"]), (["ALEZ", ""], ["ALEX"]), (["B", "ALEX"], ["ALEZ"])):
        enc = _Encoded(pa.array(left), pa.array(right))
        s, values = enc.summary(), enc.dictionary.to_pylist()
        assert s.distinct.tolist() == [len(set(v)) for v in values]
        assert s.repeats.tolist() == [len(v) - len(set(v)) for v in values]
        pair = (np.array([left.index(next(v for v in left if v.startswith("AL")))]), np.array([0]))
        assert jaro_winkler("x", (0.88,)).levels(pa.array(left), pa.array(right), *pair).tolist() == [1]
