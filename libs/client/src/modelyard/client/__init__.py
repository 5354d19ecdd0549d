"""modelyard.client"""
