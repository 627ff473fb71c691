"""medkg.kg"""
