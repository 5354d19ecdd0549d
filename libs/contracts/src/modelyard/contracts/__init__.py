"""modelyard.contracts"""
