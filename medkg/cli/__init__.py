"""medkg.cli"""
