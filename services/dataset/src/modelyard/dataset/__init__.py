"""modelyard.dataset"""
