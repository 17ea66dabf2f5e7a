"""backend/demo"""
