import { mount } from 'svelte';
import Participant from './components/labelling/Participant.svelte';
import './styles.css';

mount(Participant, { target: document.getElementById('app')! });
