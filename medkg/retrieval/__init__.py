"""medkg.retrieval"""
