"""medkg.synthesis"""
