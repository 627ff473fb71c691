"""medkg.coverage"""
