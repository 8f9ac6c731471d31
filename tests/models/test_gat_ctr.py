"""gat over SRJGraph's sampled neighbourhoods: shapes, gradients, masking, target query, task heads."""

import pytest

import srj_tree_cases as cases


@pytest.mark.parametrize("check", [cases.check_shapes_and_gradients, cases.check_empty_neighbourhoods,
                                   cases.check_masked_neighbours_are_ignored, cases.check_target_query_is_a_feature,
                                   cases.check_task_heads, cases.check_depths,
                                   cases.check_needs_the_sampled_subgraph])
def test_gat(check):
    check("gat")
