"""medkg.training"""
